// Brokers the access tests run against: Debian's Mosquitto and mqiot's own broker (its CLI, as a
// separate process so it can be SIGKILLed like a crashing machine).
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Mosquitto, canConnect, freePort, waitFor } from './helpers.ts';

export interface TestBroker {
  readonly kind: 'mosquitto' | 'mqiot';
  readonly port: number;
  start(): Promise<void>;
  /** SIGKILL: a crash. SIGTERM: a graceful stop (v5 clients get DISCONNECT 0x8B). */
  stop(signal: 'SIGKILL' | 'SIGTERM'): Promise<void>;
  dispose(): Promise<void>;
}

const MQIOT_BIN = fileURLToPath(new URL('../../bin/mqiot.js', import.meta.url));

export class MqiotBrokerProcess implements TestBroker {
  readonly kind = 'mqiot';
  private child: ChildProcess | undefined;
  constructor(readonly port: number) {}

  async start(): Promise<void> {
    const args = [MQIOT_BIN, 'broker', '--host', '127.0.0.1', '--port', String(this.port)];
    args.push('--ws-port', 'off', '--metrics-port', 'off', '--log-level', 'silent');
    this.child = spawn(process.execPath, args, { stdio: 'ignore' });
    const child = this.child;
    await waitFor(
      async () => {
        if (child.exitCode !== null) throw new Error(`mqiot broker exited with ${child.exitCode}`);
        return canConnect(this.port);
      },
      20_000,
      `mqiot broker on ${this.port}`,
    );
  }

  async stop(signal: 'SIGKILL' | 'SIGTERM'): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    child.kill(signal);
    await exited;
    this.child = undefined;
  }

  async dispose(): Promise<void> {
    await this.stop('SIGKILL');
  }
}

class MosquittoBroker implements TestBroker {
  readonly kind = 'mosquitto';
  constructor(private readonly m: Mosquitto) {}
  get port(): number {
    return this.m.port;
  }
  start(): Promise<void> {
    return this.m.start();
  }
  stop(signal: 'SIGKILL' | 'SIGTERM'): Promise<void> {
    return this.m.stop(signal);
  }
  dispose(): Promise<void> {
    return this.m.dispose();
  }
}

export async function startBroker(kind: 'mosquitto' | 'mqiot'): Promise<TestBroker> {
  if (kind === 'mosquitto') return new MosquittoBroker(await Mosquitto.start());
  const b = new MqiotBrokerProcess(await freePort());
  await b.start();
  return b;
}
