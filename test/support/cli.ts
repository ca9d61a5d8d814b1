// The mqiot CLI as a child process, started as a user would: `mqiot broker`, `mqiot up`, any command.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { stopChild } from './child.ts';
import { canConnect, freePort } from './ports.ts';
import { PROCESS_START_MS, waitFor } from './wait.ts';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const BIN = fileURLToPath(new URL('../../bin/mqiot.js', import.meta.url));

export interface RunningCli {
  child: ChildProcess;
  /** Everything written so far. */
  stdout(): string;
  stderr(): string;
  /** Resolves with the exit code (or the signal name). */
  exited: Promise<number | string>;
  /** SIGTERM, then wait for the exit. */
  stop(): Promise<number | string>;
  /** SIGKILL if still running (cleanup after a test), then wait for the exit. */
  kill(): Promise<number | string>;
}

// Every child still running when the test file's process ends is killed with it: a test that timed out
// can go on and start one after its cleanup ran (the runner ends the file with --test-force-exit).
const children = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});

/** Runs `node bin/mqiot.js ...args`. */
export function runCli(args: string[], env: Record<string, string> = {}): RunningCli {
  // The test runner's own MQIOT_* settings must not leak into the broker under test.
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('MQIOT_')));
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: ROOT,
    env: { ...base, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  child.once('exit', () => children.delete(child));
  let out = '';
  let err = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | string>((resolve) => {
    // 'close', not 'exit': the exit can come before the last of stdout and stderr has been read.
    child.once('close', (code, signal) => resolve(code ?? signal ?? -1));
  });
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return exited;
    },
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      return exited;
    },
  };
}

/** `broker` on loopback at `port`, then `extra`; WebSocket and metrics off unless given a port. */
export function brokerArgs(
  ports: { port: number; wsPort?: number; metricsPort?: number },
  ...extra: string[]
): string[] {
  return [
    'broker',
    '--host',
    '127.0.0.1',
    '--port',
    String(ports.port),
    '--ws-port',
    String(ports.wsPort ?? 'off'),
    '--metrics-port',
    String(ports.metricsPort ?? 'off'),
    ...extra,
  ];
}

/** `up` on loopback with MQTT and HTTP on port 0, WebSocket and metrics off, data in `dataDir`. */
export function upArgs(dataDir: string, ...extra: string[]): string[] {
  return [
    'up',
    '--data-dir',
    dataDir,
    '--host',
    '127.0.0.1',
    '--port',
    '0',
    '--http-port',
    '0',
    '--ws-port',
    'off',
    '--metrics-port',
    'off',
    ...extra,
  ];
}

export interface RunningUp extends RunningCli {
  mqttUrl: string;
  httpUrl: string;
}

const UP_RUNNING = 'mqiot up: running';

/**
 * Starts `mqiot up` (see upArgs) and waits for its "running" log line, which carries the URLs it listens
 * on (the ports are 0, so only the log knows them). If it exits or times out first, it is killed and this
 * rejects with its output.
 */
export async function startUp(
  dataDir: string,
  extraArgs: string[] = [],
  env: Record<string, string> = {},
): Promise<RunningUp> {
  const cli = runCli(upArgs(dataDir, ...extraArgs), env);
  const ended = (): boolean => cli.child.exitCode !== null || cli.child.signalCode !== null;
  let line: Record<string, unknown> | undefined;
  try {
    await waitFor(
      () => `mqiot up to log "running": ${cli.stderr() + cli.stdout()}`,
      () =>
        (line = completeLogLines(cli.stdout()).find((l) => l.msg === UP_RUNNING)) !== undefined || ended(),
      PROCESS_START_MS,
    );
  } catch (err) {
    await cli.kill();
    throw err;
  }
  if (line === undefined)
    throw new Error(`mqiot up exited early with ${await cli.exited}: ${cli.stderr() + cli.stdout()}`);
  return { ...cli, mqttUrl: String(line.mqttUrl), httpUrl: String(line.httpUrl) };
}

/** The JSON log lines written so far; the last, still unterminated line is left for the next look. */
function completeLogLines(text: string): Array<Record<string, unknown>> {
  return logLines(text.slice(0, text.lastIndexOf('\n') + 1));
}

export interface RunningBroker extends RunningCli {
  port: number;
  wsPort: number;
  metricsPort: number;
}

/** Starts `mqiot broker` on free loopback ports and waits until it logged "broker started". */
export async function startBrokerCli(
  extraArgs: string[] = [],
  env: Record<string, string> = {},
): Promise<RunningBroker> {
  const [port, wsPort, metricsPort] = [await freePort(), await freePort(), await freePort()];
  const cli = runCli(brokerArgs({ port, wsPort, metricsPort }, ...extraArgs), env);
  try {
    await waitFor(
      () => `"broker started": ${cli.stderr()}`,
      () => cli.stdout().includes('"broker started"'),
      PROCESS_START_MS,
    );
  } catch (err) {
    await cli.kill();
    throw err;
  }
  return { ...cli, port, wsPort, metricsPort };
}

/** Lines of the broker's structured log, parsed. */
export function logLines(text: string): Array<Record<string, unknown>> {
  return text
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/**
 * `mqiot broker` as a separate process on a fixed port, so it can be SIGKILLed like a crashing machine
 * and started again on the same port.
 */
export class MqiotBrokerProcess {
  readonly kind = 'mqiot';
  private child: ChildProcess | undefined;
  constructor(readonly port: number) {}

  async start(): Promise<void> {
    const args = [BIN, 'broker', '--host', '127.0.0.1', '--port', String(this.port)];
    args.push('--ws-port', 'off', '--metrics-port', 'off', '--log-level', 'silent');
    this.child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    const child = this.child;
    // Start errors (a port taken, a bad flag) go to stderr even with logging silent: keep them for the message.
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    await waitFor(
      `mqiot broker on ${this.port}`,
      async () => {
        if (child.exitCode !== null) {
          throw new Error(`mqiot broker exited with ${child.exitCode}: ${stderr.trim()}`);
        }
        return canConnect(this.port);
      },
      PROCESS_START_MS,
    );
  }

  async stop(signal: 'SIGKILL' | 'SIGTERM'): Promise<void> {
    await stopChild(this.child, signal);
    this.child = undefined;
  }

  async dispose(): Promise<void> {
    await this.stop('SIGKILL');
  }
}

/**
 * `mqiot gateways add ID --data-dir DIR`: registers a gateway and returns the MQTT login it was issued
 * (what an operator does before a gateway may connect to `mqiot up` outside lab mode).
 */
export async function issueGatewayCredentials(
  dataDir: string,
  gatewayId: string,
): Promise<{ username: string; password: string }> {
  const cli = runCli(['gateways', 'add', gatewayId, '--json', '--data-dir', dataDir]);
  const code = await cli.exited;
  if (code !== 0) throw new Error(`mqiot gateways add failed (${code}): ${cli.stderr()}`);
  const issued = JSON.parse(cli.stdout()) as { username: string; password: string };
  return { username: issued.username, password: issued.password };
}
