// Refused uplinks: our broker (src/broker) with a local client handler standing in for the platform's
// store. Its promise rejects the first deliveries, so the MQTT 5 gateway gets PUBACK with reason 0x80
// (Unspecified error) and must resend those messages after a backoff, same seq, in order, and never
// resend one that was accepted.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import type { LocalMessage } from '../../src/broker/index.ts';
import pino from 'pino';
import { Gateway } from '../../src/gateway/gateway.ts';
import { parseGatewayConfig } from '../../src/gateway/config.ts';
import { decodeEnvelope, encodeEnvelope, type DataEnvelope } from '../../src/protocol/envelope.ts';
import { gatewayDownTopic } from '../../src/protocol/gateway-topics.ts';
import { ReasonCode } from '../../src/protocol/reason-codes.ts';
import { startSimulators } from '../../src/sim/index.ts';
import { startOurBroker } from '../support/broker.ts';
import { makeTempDir } from '../support/temp.ts';
import { waitFor } from '../support/wait.ts';

const GW = 'gw-refused';

class StoreRefused extends Error {
  override readonly name = 'StoreRefused';
}

interface Delivery {
  seq: number;
  outcome: 'accepted' | 'refused';
}

/**
 * Accepts or refuses each delivered data group; `strictOrder` also refuses a group while an earlier
 * refused one has not been accepted (a store that applies a gateway's stream strictly in seq order).
 */
interface StoreStandIn {
  refuseFirst: number;
  strictOrder: boolean;
}

async function run(t: TestContext, inflight: number, store: StoreStandIn, qos: 1 | 2 = 1) {
  const broker = await startOurBroker();
  const sims = await startSimulators({ modbusTcp: { units: [1, 2] } });
  const tmp = makeTempDir();
  const local = broker.broker!.createLocalClient('platform-store');
  const heartbeat = () =>
    local.publish(
      gatewayDownTopic(GW),
      encodeEnvelope({ v: 1, k: 'heartbeat', gw: GW, ts: Date.now(), interval: 1000 }),
      { qos: 0 },
    );

  const deliveries: Delivery[] = [];
  const accepted: DataEnvelope[] = [];
  const missing = new Set<number>(); // refused and not accepted since
  let refusalsLeft = store.refuseFirst;
  let heartbeatTimer: NodeJS.Timeout | undefined;
  local.subscribe('mqiot/gw/+/up', { qos }, (m: LocalMessage) => {
    const env = decodeEnvelope(m.payload);
    if (env.k === 'birth') {
      // let a few groups pile up in the disk queue first, so the window sends several at once
      heartbeatTimer ??= setTimeout(() => {
        heartbeat();
        heartbeatTimer = setInterval(heartbeat, 1000);
      }, 400);
      return undefined;
    }
    if (env.k !== 'data') return undefined;
    const gap = store.strictOrder && [...missing].some((s) => s < env.seq);
    if (refusalsLeft > 0 || gap) {
      if (refusalsLeft > 0) refusalsLeft--;
      missing.add(env.seq);
      deliveries.push({ seq: env.seq, outcome: 'refused' });
      return Promise.reject(new StoreRefused(`store down for seq ${env.seq}`));
    }
    missing.delete(env.seq);
    deliveries.push({ seq: env.seq, outcome: 'accepted' });
    accepted.push(env);
    return Promise.resolve();
  });

  const config = parseGatewayConfig({
    gateway: { id: GW },
    mqtt: { urls: [broker.url], reconnectMs: 100, qos }, // MQTT 5 by default
    batching: { windowMs: 60 },
    heartbeat: { validIntervalMs: 10_000 },
    reports: { intervalMs: 600_000 },
    queue: { path: `${tmp.dir}/q.db`, inflight, retryMs: 40, retryMaxMs: 200 },
    devices: [1, 2].map((unit) => ({
      id: `pm-${unit}`,
      contract: 'modbus-tcp',
      transport: { type: 'tcp', host: '127.0.0.1', port: sims.modbusTcp!.port },
      params: { unit },
      poll: [
        { name: 'meter', message: 'read-holding-registers', params: { start: 0, count: 4 }, everyMs: 30 },
      ],
    })),
  });
  const refusalLogs: { seq: number; reasonCode: number; holdingAbove: number }[] = [];
  const logger = pino(
    { level: 'warn' },
    {
      write(line: string) {
        const entry = JSON.parse(line) as {
          msg: string;
          seq: number;
          reasonCode: number;
          holdingAbove: number;
        };
        if (entry.msg.startsWith('uplink refused')) refusalLogs.push(entry);
      },
    },
  );
  const gw = new Gateway(config, { logger });
  t.after(async () => {
    clearTimeout(heartbeatTimer);
    clearInterval(heartbeatTimer);
    await gw.stop({ graceful: false });
    local.close();
    await sims.close();
    await broker.stop();
    tmp.cleanup();
  });
  await gw.start();

  await waitFor('refusals, then five groups accepted after the last resend', () => {
    const refused = new Set(deliveries.filter((d) => d.outcome === 'refused').map((d) => d.seq));
    const acceptedSeqs = new Set(accepted.map((g) => g.seq));
    if (refusalsLeft > 0 || ![...refused].every((s) => acceptedSeqs.has(s))) return false;
    return deliveries.length - 1 - lastResendAccepted(deliveries) >= 5;
  });
  await gw.stop({ drainMs: 10_000 });
  clearTimeout(heartbeatTimer);
  clearInterval(heartbeatTimer);

  assert.equal(gw.queueDepth, 0, 'the disk queue drained: every group was accepted');
  assert.equal(accepted.length, gw.stats.groupsQueued, 'every data group queued was accepted');
  assert.ok(gw.stats.refused >= store.refuseFirst, `the gateway saw the refusals (${gw.stats.refused})`);
  const seqs = accepted.map((g) => g.seq);
  assert.equal(new Set(seqs).size, seqs.length, 'no data group accepted twice');
  for (const dev of ['pm-1', 'pm-2']) {
    const frames = accepted.flatMap((g) => g.frames.filter((f) => f.dev === dev).map((f) => f.seq));
    assert.deepEqual(
      [...frames].sort((a, b) => a - b),
      frames.map((_, i) => i),
      `${dev}: every frame once`,
    );
  }
  assert.ok(
    refusalLogs.every((l) => l.reasonCode === ReasonCode.UnspecifiedError),
    'refused with 0x80 (Unspecified error)',
  );
  return { deliveries, accepted, seqs, refusalLogs };
}

/** Index of the last delivery that accepted a group refused before. */
function lastResendAccepted(deliveries: Delivery[]): number {
  const refused = new Set(deliveries.filter((d) => d.outcome === 'refused').map((d) => d.seq));
  for (let i = deliveries.length - 1; i >= 0; i--)
    if (deliveries[i]!.outcome === 'accepted' && refused.has(deliveries[i]!.seq)) return i;
  return -1;
}

const increasing = (seqs: number[]) => seqs.every((s, i) => i === 0 || s > seqs[i - 1]!);

test('error PUBACK (0x80): refused groups are resent after a backoff and accepted once, in order (window 1)', async (t) => {
  const { deliveries, seqs } = await run(t, 1, { refuseFirst: 4, strictOrder: false });
  assert.ok(increasing(seqs), `accepted in seq order: ${seqs.join(',')}`);
  const refusedSeqs = deliveries.filter((d) => d.outcome === 'refused').map((d) => d.seq);
  assert.equal(refusedSeqs.length, 4);
  assert.equal(new Set(refusedSeqs).size, 1, 'the same group (same seq) refused and resent four times');
});

test('error PUBACK (0x80): with 32 in flight, refused groups go again oldest first before anything new', async (t) => {
  const { deliveries, seqs } = await run(t, 32, { refuseFirst: 2, strictOrder: true });
  assert.ok(increasing(seqs), `accepted in seq order: ${seqs.join(',')}`);
  const refused = deliveries.filter((d) => d.outcome === 'refused');
  assert.ok(refused.length >= 3, `several groups in flight were refused together (${refused.length})`);
  // the resends come in seq order: what was refused is delivered again oldest first
  const firstAccept = deliveries.findIndex((d) => d.outcome === 'accepted');
  const resent = deliveries.slice(firstAccept).map((d) => d.seq);
  assert.ok(increasing(resent), `deliveries after the refusals in seq order: ${resent.join(',')}`);
});

test('error PUBACK (0x80): a store that accepts later groups meanwhile still gets each group once; no new group overtakes the resends', async (t) => {
  const { deliveries, refusalLogs } = await run(t, 32, { refuseFirst: 2, strictOrder: false });
  // groups already in flight when the refusal came may be accepted before the resend (the platform's
  // hole rule applies the resend anyway); nothing newer than them goes out until every refused group
  // has been accepted
  assert.ok(refusalLogs.length >= 2, 'the gateway logged the refusals');
  const holding = refusalLogs[0]!.holdingAbove;
  assert.ok(
    refusalLogs.every((l) => l.holdingAbove === holding),
    'the cursor did not move while recovering',
  );
  const firstRefusal = deliveries.findIndex((d) => d.outcome === 'refused');
  const lastResend = lastResendAccepted(deliveries);
  const between = deliveries.slice(firstRefusal, lastResend + 1).map((d) => d.seq);
  assert.ok(
    between.every((s) => s <= holding),
    `no group newer than ${holding} before the resends were accepted: ${between.join(',')}`,
  );
  const after = deliveries.slice(lastResend + 1).map((d) => d.seq);
  assert.ok(after.length >= 5 && increasing(after), `then the stream goes on in order: ${after.join(',')}`);
});

test('error PUBREC (0x80) at QoS 2: refused groups are resent and accepted once, in order', async (t) => {
  const { deliveries, seqs } = await run(t, 1, { refuseFirst: 3, strictOrder: false }, 2);
  assert.ok(increasing(seqs), `accepted in seq order: ${seqs.join(',')}`);
  assert.equal(deliveries.filter((d) => d.outcome === 'refused').length, 3);
});
