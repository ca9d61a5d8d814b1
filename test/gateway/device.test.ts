// Device requests over a fake link (the DeviceLink seam) and StreamLink over a loopback socket.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { builtinContract } from '../../src/contracts/index.ts';
import { parseGatewayConfig } from '../../src/gateway/config.ts';
import { Device, errorOf } from '../../src/gateway/device.ts';
import {
  LinkError,
  StreamLink,
  tcpOpener,
  type DeviceLink,
  type LinkRequest,
} from '../../src/gateway/links/stream-link.ts';
import { StaticUnit } from '../../src/sim/modbus/slave.ts';
import { modbusTcpDevice } from '../../src/sim/modbus/tcp-server.ts';

const deviceConfig = (retries = 2) =>
  parseGatewayConfig({
    gateway: { id: 'g' },
    mqtt: { urls: ['mqtt://127.0.0.1:1'] },
    devices: [
      {
        id: 'pm-1',
        contract: 'modbus-tcp',
        transport: { type: 'tcp', host: '127.0.0.1', port: 1 },
        params: { unit: 1 },
        commandRetries: retries,
        poll: [{ name: 'p', message: 'read-holding-registers', params: { start: 0, count: 2 }, retries }],
      },
    ],
  }).devices[0]!;

/** A link answering from a script: each request gets the next behaviour. */
class ScriptedLink implements DeviceLink {
  readonly name = 'scripted';
  readonly sent: Uint8Array[] = [];
  constructor(private readonly script: ((req: LinkRequest) => Uint8Array | 'timeout')[]) {}
  async request(req: LinkRequest): Promise<Uint8Array> {
    this.sent.push(req.frame);
    const step = this.script.shift();
    const answer = step ? step(req) : 'timeout';
    if (answer === 'timeout') throw new LinkError('timeout', 'no answer');
    if (!req.accept(answer)) throw new LinkError('timeout', 'only a stale answer');
    return answer;
  }
  async close(): Promise<void> {}
}

const unit = new StaticUnit([11, 22, 33]);
const slave = modbusTcpDevice(new Map([[1, unit]]));
const answerOf = (req: LinkRequest) => slave.answer(req.frame)!;

test('device: request frames come from the contract; the answer and its context are returned', async () => {
  const link = new ScriptedLink([answerOf]);
  const d = new Device(deviceConfig(), builtinContract('modbus-tcp'), link, () => 42);
  const answer = await d.poll(d.config.poll[0]!);
  assert.deepEqual(
    [...link.sent[0]!.subarray(2)],
    [0, 0, 0, 6, 1, 3, 0, 0, 0, 2],
    'MBAP + read holding 0..1',
  );
  assert.deepEqual(answer.ctx, { req: 'p', direction: 'response', unit: 1, start: 0, count: 2 });
  assert.equal(d.health.lastOk, 42);
});

test('device: a timeout is retried with a new transaction id; after the last retry the poll fails', async () => {
  const link = new ScriptedLink([() => 'timeout', answerOf]);
  const d = new Device(deviceConfig(1), builtinContract('modbus-tcp'), link, () => 0);
  await d.poll(d.config.poll[0]!);
  const transactionOf = (frame: Uint8Array) => Buffer.from(frame).readUInt16BE(0);
  assert.notEqual(transactionOf(link.sent[0]!), transactionOf(link.sent[1]!));
  const failing = new ScriptedLink([() => 'timeout', () => 'timeout']);
  const d2 = new Device(deviceConfig(1), builtinContract('modbus-tcp'), failing, () => 0);
  await assert.rejects(d2.poll(d2.config.poll[0]!), /failed after 2 attempt/);
  assert.equal(d2.health.consecutiveErrors, 1);
});

test('device: an answer to another transaction is not taken for this one', async () => {
  const stale = (req: LinkRequest) => {
    const a = Buffer.from(answerOf(req));
    a.writeUInt16BE((a.readUInt16BE(0) + 100) & 0xffff, 0);
    return a;
  };
  const link = new ScriptedLink([stale, answerOf]);
  const d = new Device(deviceConfig(1), builtinContract('modbus-tcp'), link, () => 0);
  await d.poll(d.config.poll[0]!);
  assert.equal(link.sent.length, 2, 'the stale answer cost one retry');
});

test('device: a command the device refuses is ok=false with the exception, raw answer kept', async () => {
  const link = new ScriptedLink([answerOf]);
  const d = new Device(deviceConfig(0), builtinContract('modbus-tcp'), link, () => 0);
  const outcome = await d.command('write-single-register', { address: 99, value: 1 });
  assert.equal(outcome.ok, false);
  assert.match(outcome.error!, /illegal-data-address/);
  assert.match(String(outcome.result?.raw), /018602$/, 'exception frame kept');
  const ok = await new Device(
    deviceConfig(0),
    builtinContract('modbus-tcp'),
    new ScriptedLink([answerOf]),
    () => 0,
  ).command('write-single-register', { address: 1, value: 7 });
  assert.equal(ok.ok, true);
  assert.equal(unit.readRegisters(1, 1)![0], 7);
  assert.equal(errorOf({ error: true, errors: 'no-data' }), 'error no-data');
  assert.equal(errorOf({ error: false }), undefined);
});

test('stream link: requests take turns; a late answer to a timed-out request is ignored', async () => {
  let delayFirst = true;
  const server = net.createServer((socket) => {
    socket.on('data', (d: Buffer) => {
      const answer = slave.answer(d)!;
      if (delayFirst) {
        delayFirst = false;
        setTimeout(() => socket.write(answer), 150); // after the request's timeout
      } else socket.write(answer);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const link = new StreamLink('t', tcpOpener('127.0.0.1', (server.address() as net.AddressInfo).port));
  const contract = builtinContract('modbus-tcp');
  const req = (transaction: number, timeoutMs: number): LinkRequest => ({
    frame: contract.encode('read-holding-registers', { transaction, unit: 1, start: 0, count: 1 }),
    timeoutMs,
    split: (s) => contract.split(s),
    accept: (a) => Buffer.from(a).readUInt16BE(0) === transaction,
  });
  try {
    const first = link.request(req(1, 50));
    const second = link.request(req(2, 1000));
    await assert.rejects(first, (e: unknown) => e instanceof LinkError && e.reason === 'timeout');
    const answer = await second;
    assert.equal(Buffer.from(answer).readUInt16BE(0), 2, 'the late answer to request 1 was not taken');
  } finally {
    await link.close();
    server.close();
  }
});

test('stream link: an unreachable endpoint fails fast until the reconnect delay has passed', async () => {
  const port = await new Promise<number>((resolve) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
  const link = new StreamLink('dead', tcpOpener('127.0.0.1', port), 10_000);
  const contract = builtinContract('modbus-tcp');
  const r: LinkRequest = {
    frame: contract.encode('read-coils', { unit: 1, start: 0, count: 1 }),
    timeoutMs: 100,
    split: (s) => contract.split(s),
    accept: () => true,
  };
  await assert.rejects(link.request(r), (e: unknown) => e instanceof LinkError && e.reason === 'connect');
  await assert.rejects(link.request(r), /not reachable, next attempt/);
  await link.close();
});
