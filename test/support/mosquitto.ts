// Debian's Mosquitto, the one way tests and benchmarks start it: a config file in a temp dir, a
// listener on 127.0.0.1, ready once it accepts TCP connections. Restartable on the same port.
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isRunning, stopChild } from './child.ts';
import { canConnect, freePort } from './ports.ts';
import { makeTempDir } from './temp.ts';
import { waitFor } from './wait.ts';

export class Mosquitto {
  readonly kind = 'mosquitto';
  private child: ChildProcess | undefined;
  private readonly tmp = makeTempDir('mqiot-mosquitto-');

  /** @param extra more mosquitto.conf lines (a bridge, queue limits, `allow_anonymous false`…) */
  constructor(
    readonly port: number,
    private readonly extra: string[] = [],
  ) {}

  /** Starts one on `port` (a free one if not given). */
  static async start(port?: number, extra: string[] = []): Promise<Mosquitto> {
    const m = new Mosquitto(port ?? (await freePort()), extra);
    await m.start();
    return m;
  }

  get url(): string {
    return `mqtt://127.0.0.1:${this.port}`;
  }

  /** The running process's id (for /proc figures), undefined when stopped. */
  get pid(): number | undefined {
    return this.running ? this.child?.pid : undefined;
  }

  async start(): Promise<void> {
    const conf = join(this.tmp.dir, 'mosquitto.conf');
    const anonymous = this.extra.some((l) => l.startsWith('allow_anonymous')) ? [] : ['allow_anonymous true'];
    // No in-flight limit and a deep queue, so that Mosquitto never drops a QoS 1/2 message a test
    // expects; `extra` comes last and so overrides these.
    const lines = [
      `listener ${this.port} 127.0.0.1`,
      ...anonymous,
      'persistence false',
      'max_inflight_messages 0',
      'max_queued_messages 100000',
      'log_dest none',
    ];
    writeFileSync(conf, [...lines, ...this.extra, ''].join('\n'));
    const child = spawn('mosquitto', ['-c', conf], { stdio: 'ignore' });
    this.child = child;
    await waitFor(`mosquitto on ${this.port}`, async () => {
      if (child.exitCode !== null) throw new Error(`mosquitto exited with ${child.exitCode}`);
      return canConnect(this.port);
    });
  }

  get running(): boolean {
    return isRunning(this.child);
  }

  /** SIGKILL (crash) or SIGTERM (graceful stop: v5 clients get DISCONNECT 0x8B). */
  async stop(signal: 'SIGKILL' | 'SIGTERM' = 'SIGTERM'): Promise<void> {
    await stopChild(this.child, signal);
    this.child = undefined;
  }

  async dispose(): Promise<void> {
    await this.stop('SIGKILL');
    this.tmp.cleanup();
  }
}
