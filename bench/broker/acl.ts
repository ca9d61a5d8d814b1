// What a topic ACL costs on the publish hot path.
//   node --import tsx bench/broker/acl.ts [--duration SECONDS] [--patterns N] [--rounds N]
// 1. In process: Acl.canPublish with N patterns, decision cache hit vs miss (ns per call).
// 2. End to end: `mqiot broker` (CLI, child process) with no ACL vs an ACL of N patterns under one
//    first level where only the last one grants the publishers; 4 QoS 0 publishers -> 1 subscriber,
//    closed loop (publishing pauses while more than a window is undelivered), each publisher on one
//    topic (decisions cached) or cycling over 1500 topics (more than the 64 cached per client:
//    every decision computed).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Acl, parseAclFile } from '../../src/broker/auth/index.ts';
import type { ClientInfo } from '../../src/broker/types.ts';
import { startBroker } from './brokers.ts';
import { publishTemplate, RawClient, type PublishTemplate } from './raw-client.ts';

const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '3' },
    patterns: { type: 'string', default: '100' },
    rounds: { type: 'string', default: '2' },
  },
});
const ROUNDS = Number(values.rounds);
const DURATION_MS = Number(values.duration) * 1000;
const PATTERNS = Number(values.patterns);
const PUBLISHERS = 4;
const WINDOW = 400;
const BATCH = 20;
const MANY_TOPICS = 1500;

/**
 * N-1 patterns that never match the benchmark's topics, then the one that grants them. `sameRoot`:
 * all under `bench/`, so the trie walks deeper before it fails.
 */
function aclText(patterns: number, sameRoot = false): string {
  const lines = ['topic read bench/#'];
  for (let i = 0; i < patterns - 1; i++)
    lines.push(sameRoot ? `pattern readwrite bench/%c/+/data${i}` : `pattern readwrite site${i}/%c/+/data`);
  lines.push('pattern write bench/%c/#');
  return `${lines.join('\n')}\n`;
}

function micro(sameRoot: boolean): void {
  const acl = new Acl(parseAclFile(aclText(PATTERNS, sameRoot), 'bench'));
  const client: ClientInfo = {
    clientId: 'pub0',
    username: undefined,
    protocolVersion: 4,
    remoteAddress: undefined,
    transport: 'tcp',
  };
  const topics = Array.from({ length: MANY_TOPICS }, (_, i) => `bench/pub0/${i}`);
  const time = (label: string, n: number, f: (i: number) => boolean): void => {
    let ok = 0;
    for (let i = 0; i < 10_000; i++) if (f(i)) ok++; // warm up
    let ns = Infinity; // best of 3: the machine is shared
    for (let rep = 0; rep < 3; rep++) {
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < n; i++) if (f(i)) ok++;
      ns = Math.min(ns, Number(process.hrtime.bigint() - t0) / n);
    }
    if (ok === 0) throw new Error('nothing allowed: the ACL is wrong');
    console.log(`  canPublish, ${label}: ${ns.toFixed(0)} ns/call (best of 3)`);
  };
  console.log(
    `in process, ${PATTERNS} patterns${sameRoot ? ', all under the same first level' : ' under distinct first levels'}:`,
  );
  time('one topic (cached decision)', 2_000_000, () => acl.canPublish(client, 'bench/pub0/x'));
  time(`${MANY_TOPICS} topics cycling (computed)`, 300_000, (i) =>
    acl.canPublish(client, topics[i % MANY_TOPICS]!),
  );
}

async function load(port: number, topicsPerPublisher: number): Promise<number> {
  const sub = await RawClient.connect(port, 'sub');
  let received = 0;
  sub.onReceived = () => received++;
  await sub.subscribe('bench/#', 0);
  const pubs = await Promise.all(
    Array.from({ length: PUBLISHERS }, (_, i) => RawClient.connect(port, `pub${i}`)),
  );
  const templates: PublishTemplate[][] = pubs.map((_, i) =>
    Array.from({ length: topicsPerPublisher }, (_, k) => publishTemplate(`bench/pub${i}/${k}`, 0, 64)),
  );
  let sent = 0;
  let next = 0;
  const end = Date.now() + DURATION_MS;
  let countedFrom = 0;
  let startedAt = 0;
  const warmUpEnd = Date.now() + 500;
  while (Date.now() < end) {
    if (startedAt === 0 && Date.now() >= warmUpEnd) {
      startedAt = Date.now();
      countedFrom = received;
    }
    if (sent - received < WINDOW) {
      for (let i = 0; i < PUBLISHERS; i++) {
        const t = templates[i]!;
        for (let b = 0; b < BATCH; b++) pubs[i]!.publishBatch(t[(next + b) % t.length]!, 1);
      }
      next += BATCH;
      sent += BATCH * PUBLISHERS;
    }
    await new Promise((r) => setImmediate(r));
  }
  const rate = ((received - countedFrom) * 1000) / (Date.now() - startedAt);
  for (const c of [...pubs, sub]) c.end();
  if (received === 0) throw new Error('nothing delivered');
  return rate;
}

async function endToEnd(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'mqiot-bench-acl-'));
  const aclFile = join(dir, 'acl');
  writeFileSync(aclFile, aclText(PATTERNS, true));
  console.log(
    `end to end (mqiot broker, ${PUBLISHERS} QoS 0 publishers -> 1 subscriber, ${values.duration} s each):`,
  );
  // rounds alternate the two brokers so that a burst of load from elsewhere does not land on one
  // side only; the best round of each scenario is reported
  const best = new Map<string, number>();
  try {
    for (let round = 0; round < ROUNDS; round++) {
      for (const [label, args] of [
        ['no ACL', []],
        [`ACL, ${PATTERNS} patterns under one root`, ['--acl-file', aclFile]],
      ] as const) {
        const broker = await startBroker('mqiot', [...args]);
        try {
          for (const topics of [1, MANY_TOPICS]) {
            const key = `${label}, ${topics === 1 ? 'one topic per publisher' : `${topics} topics per publisher`}`;
            best.set(key, Math.max(best.get(key) ?? 0, await load(broker.port, topics)));
          }
        } finally {
          await broker.stop();
        }
      }
    }
    for (const [key, rate] of best) console.log(`  ${key}: ${Math.round(rate)} msgs/s (best of ${ROUNDS})`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

micro(false);
micro(true);
await endToEnd();
