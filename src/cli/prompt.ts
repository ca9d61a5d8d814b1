// Reading a password without it showing up in the process list or the shell history: hidden input on
// a terminal, or the first line of standard input from a pipe.
import { CliError } from './errors.ts';

export async function readStdinLine(): Promise<string> {
  let text = '';
  for await (const chunk of process.stdin) {
    text += (chunk as Buffer).toString('utf8');
    if (text.includes('\n')) break;
  }
  return text.split(/\r?\n/)[0]!;
}

/** One line from the terminal without echo (raw mode): Enter ends it, Backspace edits, Ctrl-C aborts. */
export function readHidden(command: string, prompt: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const stdin = process.stdin;
    process.stderr.write(prompt);
    stdin.setRawMode(true);
    stdin.resume();
    let text = '';
    const finish = (err?: Error): void => {
      stdin.off('data', onData);
      stdin.setRawMode(false);
      stdin.pause();
      process.stderr.write('\n');
      if (err) reject(err);
      else resolve(text);
    };
    const onData = (chunk: Buffer): void => {
      for (const ch of chunk.toString('utf8')) {
        if (ch === '\r' || ch === '\n') return finish();
        if (ch === '\u0003') return finish(new CliError(`${command}: cancelled`, 130));
        if (ch === '\u007f' || ch === '\b') text = text.slice(0, -1);
        else text += ch;
      }
    };
    stdin.on('data', onData);
  });
}

/** Asked twice on a terminal (not echoed), else the first line of standard input. */
export async function askPassword(command: string): Promise<string> {
  if (!process.stdin.isTTY) return readStdinLine();
  const first = await readHidden(command, 'password: ');
  const again = await readHidden(command, 'password again: ');
  if (first !== again) throw new CliError(`${command}: the two passwords differ`, 2);
  return first;
}
