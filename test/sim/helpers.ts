// Shared helpers for simulator and gateway tests: hex and socat pty pairs.
import { spawn, type ChildProcess } from 'node:child_process';

export const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

export interface PtyPair {
  a: string;
  b: string;
  close(): Promise<void>;
}

/** Two connected pseudo-terminals made by Debian's socat (`socat -d -d pty,raw,echo=0 pty,raw,echo=0`). */
export async function ptyPair(): Promise<PtyPair> {
  const child: ChildProcess = spawn('socat', ['-d', '-d', 'pty,raw,echo=0', 'pty,raw,echo=0'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const paths: string[] = [];
  await new Promise<void>((resolve, reject) => {
    let text = '';
    const timer = setTimeout(() => reject(new Error(`socat did not start: ${text}`)), 10_000);
    child.once('error', reject);
    child.stderr!.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      for (const m of text.matchAll(/PTY is (\S+)/g)) if (!paths.includes(m[1]!)) paths.push(m[1]!);
      if (paths.length >= 2 && /starting data transfer loop/.test(text)) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  return {
    a: paths[0]!,
    b: paths[1]!,
    close: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}
