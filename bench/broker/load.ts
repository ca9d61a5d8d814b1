// One load-generator process (publishers, subscribers or idle connections), driven by its parent
// (run.ts) over IPC: it connects, says `ready`, starts on `go`, and on `stop` reports and exits.
// Publishers and subscribers run in separate processes so neither starves the other.
import { nowMs, publishTemplate, RawClient } from './raw-client.ts';

export type Role =
  | { role: 'sub'; port: number; clients: number; filter: string; qos: 0 | 1 | 2; latency: boolean }
  | {
      role: 'pub';
      port: number;
      clients: number;
      topic: string;
      qos: 0 | 1 | 2;
      payload: number;
      /** QoS 1/2 messages in flight per publisher. */
      window: number;
      /** Total messages/s over all publishers; 0 = as fast as the broker takes them. */
      rate: number;
    }
  | {
      /**
       * Closed loop: publishers and subscribers in this one process; publishing stops while more
       * than `window` messages are published but not yet delivered to every subscriber, so no broker
       * is flooded faster than it delivers and throughput is what it sustains end to end.
       */
      role: 'closed';
      port: number;
      publishers: number;
      subscribers: number;
      topic: string;
      filter: string;
      qos: 0 | 1 | 2;
      payload: number;
      window: number;
      /** Deliveries per publish when every subscriber matches (the fan-out). */
      fanout: number;
      /** Subscribers keep their sessions (clean session 0), so a persistent broker stores every QoS 1/2 delivery. */
      persistent?: boolean;
    }
  /**
   * Idle connections as a fleet holds them: keep alive 60, one subscription each, every other
   * client speaking MQTT 5 (the rest 3.1.1). `sources`: loopback addresses the clients bind to in
   * turn (127.0.0.x; default the system's choice), so one process can hold more connections than
   * one source address has ephemeral ports. A client the broker refuses or drops (it is out of file
   * descriptors, say) is counted, not fatal: `ready` says how many are held.
   */
  | { role: 'idle'; port: number; clients: number; sources?: string[] };

/** go: start; mark: end of warm-up, counting starts again from zero; stop: report and exit. */
export type ToChild = { type: 'go' } | { type: 'mark' } | { type: 'stop' };
export type FromChild =
  | {
      type: 'ready';
      /** idle: connections connected, subscribed and still open; failed: those that were not. */
      held?: number;
      failed?: number;
    }
  | {
      type: 'done';
      count: number;
      /** This generator process's own CPU seconds since `mark` (to see whether it was the bottleneck). */
      cpuSeconds?: number;
      latency?: { p50: number; p99: number; p999: number; samples: number };
    };

/** `{i}` in a topic or filter becomes the client's index (pairs publisher i with subscriber i). */
const name = (template: string, i: number) => template.replaceAll('{i}', String(i));
const send = (msg: FromChild) => process.send?.(msg);

const MAX_SAMPLES = 200_000;
const QOS0_BATCH = 32;

async function main(role: Role): Promise<void> {
  const clients: RawClient[] = [];
  let idleFailed = 0;
  if (role.role === 'idle') {
    // idle connections: connect them all, then just hold them
    const sources = role.sources ?? [];
    for (let i = 0; i < role.clients; i += 50) {
      const batch = Array.from({ length: Math.min(50, role.clients - i) }, async (_, k) => {
        const version = (i + k) % 2 === 0 ? 4 : 5;
        const id = `bench-idle-${process.pid}-${i + k}`;
        const localAddress = sources.length > 0 ? sources[(i + k) % sources.length] : undefined;
        try {
          const c = await RawClient.connect(role.port, id, 60, version, { localAddress });
          await c.subscribe(`bench/idle/${id}/cmd`, 1, version);
          return c;
        } catch {
          idleFailed++;
          return undefined;
        }
      });
      for (const c of await Promise.all(batch)) if (c !== undefined) clients.push(c);
    }
  }
  const subscribers: RawClient[] = [];
  if (role.role === 'closed') {
    for (let i = 0; i < role.subscribers; i++) {
      const c = await RawClient.connect(role.port, `bench-csub-${process.pid}-${i}`, 60, 4, {
        clean: role.persistent !== true,
      });
      await c.subscribe(name(role.filter, i), role.qos);
      subscribers.push(c);
    }
    for (let i = 0; i < role.publishers; i++) {
      clients.push(await RawClient.connect(role.port, `bench-cpub-${process.pid}-${i}`));
    }
  }
  for (let i = 0; (role.role === 'pub' || role.role === 'sub') && i < role.clients; i++) {
    clients.push(await RawClient.connect(role.port, `bench-${role.role}-${process.pid}-${i}`));
  }
  let running = false;
  let count = 0;
  const samples = new Float64Array(MAX_SAMPLES);
  let sampled = 0;

  if (role.role === 'sub') {
    await Promise.all(clients.map((c, i) => c.subscribe(name(role.filter, i), role.qos)));
    for (const c of clients) {
      c.onReceived = (sentAt) => {
        if (!running) return;
        count++;
        if (role.latency && sampled < MAX_SAMPLES) samples[sampled++] = nowMs() - sentAt;
      };
    }
  }

  let closedLoop: { onDelivered(): void } | undefined;
  if (role.role === 'closed') {
    for (const c of subscribers) {
      c.onReceived = () => {
        if (!running) return;
        count++;
        closedLoop?.onDelivered();
      };
    }
  }

  let cpuAtMark: NodeJS.CpuUsage | undefined;
  const stop = () => {
    running = false;
    const cpu = cpuAtMark ? process.cpuUsage(cpuAtMark) : undefined;
    const result: FromChild = {
      type: 'done',
      count,
      cpuSeconds: cpu ? (cpu.user + cpu.system) / 1e6 : undefined,
    };
    if (role.role === 'sub' && role.latency && sampled > 0) {
      const sorted = samples.subarray(0, sampled).sort();
      const at = (q: number) => sorted[Math.min(sampled - 1, Math.floor(q * sampled))];
      result.latency = { p50: at(0.5), p99: at(0.99), p999: at(0.999), samples: sampled };
    }
    send(result);
    for (const c of [...clients, ...subscribers]) c.end();
    setTimeout(() => process.exit(0), 200).unref();
  };

  process.on('message', (msg: ToChild) => {
    if (msg.type === 'stop') stop();
    else if (msg.type === 'mark') {
      count = 0;
      sampled = 0;
      cpuAtMark = process.cpuUsage();
    } else if (msg.type === 'go') {
      running = true;
      if (role.role === 'pub')
        startPublishing(
          role,
          clients,
          () => running,
          (n) => (count += n),
        );
      if (role.role === 'closed') closedLoop = startClosedLoop(role, clients, () => running);
    }
  });
  if (role.role === 'idle') {
    const held = clients.filter((c) => !c.socket.destroyed).length;
    send({ type: 'ready', held, failed: idleFailed + clients.length - held });
  } else send({ type: 'ready' });
}

function startPublishing(
  role: Extract<Role, { role: 'pub' }>,
  clients: RawClient[],
  isRunning: () => boolean,
  sent: (n: number) => void,
): void {
  const templates = clients.map((_, i) => publishTemplate(name(role.topic, i), role.qos, role.payload));
  if (role.rate > 0) {
    // Fixed rate: a tick every 2 ms sends what is due by the clock (a late tick catches up), one
    // packet per write so the timestamps are honest.
    let due = 0;
    let next = 0;
    let last = performance.now();
    const timer = setInterval(() => {
      if (!isRunning()) return clearInterval(timer);
      const now = performance.now();
      due += ((now - last) * role.rate) / 1000;
      last = now;
      while (due >= 1) {
        const i = next++ % clients.length;
        clients[i].publishBatch(templates[i], 1);
        sent(1);
        due--;
      }
    }, 2);
    return;
  }
  clients.forEach((client, i) => {
    const pump = (): void => {
      while (isRunning()) {
        const room = role.qos === 0 ? QOS0_BATCH : role.window - client.inflight;
        if (room <= 0) {
          client.onAck = () => {
            if (client.inflight <= role.window / 2) {
              client.onAck = undefined;
              setImmediate(pump);
            }
          };
          return;
        }
        const n = Math.min(room, QOS0_BATCH);
        sent(n);
        if (!client.publishBatch(templates[i], n)) {
          client.socket.once('drain', pump);
          return;
        }
        if (role.qos === 0) {
          // yield to the event loop so acknowledgements and 'stop' are seen
          setImmediate(pump);
          return;
        }
      }
    };
    pump();
  });
}

/** Publishes round-robin while fewer than `window` messages are on their way. */
function startClosedLoop(
  role: Extract<Role, { role: 'closed' }>,
  publishers: RawClient[],
  isRunning: () => boolean,
): { onDelivered(): void } {
  const templates = publishers.map((_, i) => publishTemplate(name(role.topic, i), role.qos, role.payload));
  let published = 0;
  let delivered = 0;
  let next = 0;
  let scheduled = false;
  const room = () => role.window - (published - delivered / role.fanout);
  const pump = (): void => {
    scheduled = false;
    let n: number;
    while (isRunning() && (n = Math.floor(Math.min(room(), 16))) > 0) {
      const i = next++ % publishers.length;
      publishers[i].publishBatch(templates[i], n);
      published += n;
    }
  };
  pump();
  return {
    onDelivered() {
      delivered++;
      // refill once a quarter of the window is free, batching the writes
      if (!scheduled && room() >= role.window / 4) {
        scheduled = true;
        setImmediate(pump);
      }
    },
  };
}

main(JSON.parse(process.argv[2] ?? '{}') as Role).catch((err: Error) => {
  // the broker went away (or refused us): report nothing rather than hang the run
  console.error(`load generator: ${err.message}`);
  process.exit(1);
});
