// The brokers under test, each in its own process so that its CPU time and memory can be read
// from /proc/<pid>: ours (the `mqiot broker` CLI), Mosquitto (Debian) and Aedes (npm).
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Mosquitto } from '../../test/support/mosquitto.ts';
import { canConnect, freePort } from '../../test/support/ports.ts';
import { waitFor } from '../../test/support/wait.ts';

export const BROKER_NAMES = ['mqiot', 'mosquitto', 'aedes'] as const;
/**
 * `mqiot-base`: another checkout of mqiot (BENCH_BASELINE_ROOT=/path, with node_modules), run the same
 * way, so that a change is measured against the code before it in one run (--brokers mqiot,mqiot-base).
 * `mqiot-shebang`: this checkout started as a user's `mqiot broker` is, through bin/mqiot.js's shebang
 * (so with the V8 flags it passes); `mqiot` runs `node bin/mqiot.js`, without them.
 */
export type BrokerName = (typeof BROKER_NAMES)[number] | 'mqiot-base' | 'mqiot-shebang';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** Clock ticks per second for /proc/<pid>/stat (getconf CLK_TCK is 100 on Linux). */
const CLOCK_TICKS = 100;

export interface RunningBroker {
  name: BrokerName;
  port: number;
  pid: number;
  /** User + system CPU seconds used so far. */
  cpuSeconds(): number;
  /** Resident set size, bytes. */
  rssBytes(): number;
  /** False once the broker process has exited (Aedes can crash under fan-out load). */
  alive(): boolean;
  stop(): Promise<void>;
}

async function waitForPort(port: number, child: ChildProcess): Promise<void> {
  await waitFor(`broker on ${port}`, async () => {
    if (child.exitCode !== null) throw new Error(`broker exited with code ${child.exitCode}`);
    return canConnect(port);
  });
}

function procFigures(pid: number) {
  return {
    cpuSeconds(): number {
      // fields after the ")" of the command name: state is field 3; utime 14, stime 15
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
    },
    rssBytes(): number {
      const status = readFileSync(`/proc/${pid}/status`, 'utf8');
      return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) * 1024;
    },
  };
}

function stopper(child: ChildProcess): () => Promise<void> {
  return async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    }
  };
}

/** Starts one broker on a free loopback port; `mqiotArgs` go to `mqiot broker` only (e.g. an ACL file). */
export async function startBroker(name: BrokerName, mqiotArgs: string[] = []): Promise<RunningBroker> {
  const port = await freePort();
  let child: ChildProcess;
  if (name === 'mqiot' || name === 'mqiot-base' || name === 'mqiot-shebang') {
    const root = name === 'mqiot-base' ? process.env.BENCH_BASELINE_ROOT : ROOT;
    if (!root) throw new Error('mqiot-base needs BENCH_BASELINE_ROOT=<another mqiot checkout>');
    const shebang = name === 'mqiot-shebang';
    child = spawn(
      shebang ? join(root, 'bin/mqiot.js') : process.execPath,
      [
        // BENCH_CPU_PROF=DIR writes a V8 CPU profile of our broker there (see README).
        ...(process.env.BENCH_CPU_PROF && !shebang
          ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`]
          : []),
        ...(shebang ? [] : [join(root, 'bin/mqiot.js')]),
        'broker',
        '--host',
        '127.0.0.1',
        '--port',
        String(port),
        '--ws-port',
        'off',
        '--metrics-port',
        'off',
        '--log-level',
        'warn',
        ...mqiotArgs,
      ],
      {
        cwd: root,
        stdio: ['ignore', 'ignore', 'inherit'],
        env: { ...process.env, MQIOT_BROKER_SYS_INTERVAL: '0' },
      },
    );
  } else if (name === 'mosquitto') {
    // Mosquitto's default in-flight window (the test default is unlimited); TCP_NODELAY as mqiot uses it
    // (with Nagle, Mosquitto's QoS 2 handshakes wait on delayed ACKs).
    const nagle = process.env.BENCH_MOSQUITTO_NAGLE ? [] : ['set_tcp_nodelay true'];
    const m = await Mosquitto.start(port, ['max_inflight_messages 20', ...nagle]);
    const pid = m.pid as number;
    const stop = async () => {
      await m.stop('SIGTERM');
      await m.dispose();
    };
    return { name, port, pid, ...procFigures(pid), alive: () => m.running, stop };
  } else {
    child = spawn(
      process.execPath,
      ['--import', 'tsx', join(ROOT, 'bench/broker/aedes-server.ts'), String(port)],
      {
        cwd: ROOT,
        stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
      },
    );
  }
  await waitForPort(port, child);
  const pid = child.pid as number;
  const alive = () => child.exitCode === null && child.signalCode === null;
  return { name, port, pid, ...procFigures(pid), alive, stop: stopper(child) };
}
