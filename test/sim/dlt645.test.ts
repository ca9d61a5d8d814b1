import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { builtinContract } from '../../src/contracts/index.ts';
import { sum8 } from '../../src/sim/checksum.ts';
import { startDlt645TcpServer, serveDlt645Stream } from '../../src/sim/dlt645/link.ts';
import { Dlt645Meter, toBcd } from '../../src/sim/dlt645/meter.ts';
import { closeSerial, openSerial } from '../../src/sim/serial.ts';
import { hex, ptyPair } from './helpers.ts';

/** Value of a read reply: data minus 0x33, DI (4 bytes) then little-endian BCD. */
function replyValue(frame: Uint8Array, decimals: number): { di: string; value: number } {
  const data = Array.from(frame.subarray(10, 10 + frame[9]!), (b) => (b - 0x33) & 0xff);
  const di = data
    .slice(0, 4)
    .reverse()
    .map((b) => b.toString(16).padStart(2, '0'))
    .join('');
  const digits = data
    .slice(4)
    .reverse()
    .map((b) => b.toString(16).padStart(2, '0'))
    .join('');
  return { di, value: Number(digits) / 10 ** decimals };
}

/** Appends checksum and end byte to a frame written up to its data. */
function withCs(body: string): Buffer {
  const b = hex(body);
  return Buffer.concat([b, Buffer.from([sum8(b, 0, b.length), 0x16])]);
}

function checkFrame(frame: Uint8Array): void {
  assert.equal(frame[0], 0x68);
  assert.equal(frame[7], 0x68);
  assert.equal(frame.at(-1), 0x16);
  assert.equal(frame.at(-2), sum8(frame, 0, frame.length - 2), 'checksum');
}

test('sim dlt645: BCD encoding matches the published vector (100.1 V → 01 10)', () => {
  assert.deepEqual([...toBcd(100.1, 2, 1)], [0x01, 0x10]);
  assert.deepEqual([...toBcd(0.26, 4, 2)], [0x26, 0, 0, 0]);
  assert.deepEqual([...toBcd(-1.5, 3, 3, true)], [0x00, 0x15, 0x80]);
});

test('sim dlt645: answers the published read requests (energy, voltage) for address 000000000161', () => {
  const meter = new Dlt645Meter('000000000161');
  const energyReq = hex('FE FE FE FE 68 61 01 00 00 00 00 68 11 04 33 33 34 33 14 16');
  const cut = meter.extract(energyReq);
  assert.ok('frame' in cut && cut.length === energyReq.length);
  const energy = meter.answer(cut.frame)!;
  checkFrame(energy);
  assert.equal(energy[8], 0x91);
  assert.deepEqual([...energy.subarray(1, 7)], [0x61, 0x01, 0, 0, 0, 0]);
  const e = replyValue(energy, 2);
  assert.equal(e.di, '00010000');
  assert.ok(e.value >= 1000, `energy ${e.value}`);
  const voltageReq = hex('68 61 01 00 00 00 00 68 11 04 33 34 34 35 17 16');
  const v = replyValue(meter.answer(voltageReq)!, 1);
  assert.equal(v.di, '02010100');
  assert.ok(v.value > 200 && v.value < 260, `voltage ${v.value}`);
});

test('sim dlt645: unknown data identifier gets an error frame (C=0xD1, no-data bit); other address silence', () => {
  const meter = new Dlt645Meter('000000000161');
  const di = [0x99, 0x99, 0x99, 0x99].map((b) => (b + 0x33) & 0xff);
  const req = Uint8Array.from([0x68, 0x61, 0x01, 0, 0, 0, 0, 0x68, 0x11, 0x04, ...di, 0, 0x16]);
  req[req.length - 2] = sum8(req, 0, req.length - 2);
  const answer = meter.answer(req)!;
  checkFrame(answer);
  assert.equal(answer[8], 0xd1);
  assert.equal((answer[10]! - 0x33) & 0xff, 0x02);
  const other = withCs('68 01 00 00 00 00 00 68 11 04 33 33 33 33');
  assert.equal(meter.answer(other), undefined);
});

test('sim dlt645: broadcast address read returns the meter address', () => {
  const meter = new Dlt645Meter('000000000161');
  const answer = meter.answer(hex('68 AA AA AA AA AA AA 68 13 00 DF 16'))!;
  checkFrame(answer);
  assert.equal(answer[8], 0x93);
  assert.deepEqual(
    Array.from(answer.subarray(10, 16), (b) => (b - 0x33) & 0xff),
    [0x61, 0x01, 0, 0, 0, 0],
  );
});

function relayRequest(code: number): Uint8Array {
  const data = [0x02, 0, 0, 0, 0, 0, 0, 0, code, 0, 0x59, 0x59, 0x23, 0x31, 0x12, 0x99];
  const f = Uint8Array.from([
    0x68,
    0x61,
    0x01,
    0,
    0,
    0,
    0,
    0x68,
    0x1c,
    16,
    ...data.map((b) => (b + 0x33) & 0xff),
    0,
    0x16,
  ]);
  f[f.length - 2] = sum8(f, 0, f.length - 2);
  return f;
}

test('sim dlt645: relay trip and close commands switch the load off and on', () => {
  const meter = new Dlt645Meter('000000000161');
  const off = meter.answer(relayRequest(0x1a))!;
  checkFrame(off);
  assert.equal(off[8], 0x9c);
  assert.equal(meter.model.read().relayOn, false);
  assert.equal(meter.model.read().powerKw, 0);
  meter.answer(relayRequest(0x1c));
  assert.equal(meter.model.read().relayOn, true);
  const wrong = new Dlt645Meter('000000000161', undefined, 1, '123456').answer(relayRequest(0x1a))!;
  assert.equal(wrong[8], 0xdc);
});

test('sim dlt645: TCP link serves two meters; corrupted checksum on demand', async () => {
  const link = await startDlt645TcpServer([new Dlt645Meter('000000000161'), new Dlt645Meter('111111111111')]);
  const socket = net.connect(link.port!, '127.0.0.1');
  const ask = (req: Buffer) =>
    new Promise<Buffer>((resolve) => {
      socket.once('data', resolve);
      socket.write(req);
    });
  try {
    const a = await ask(withCs('68 11 11 11 11 11 11 68 11 04 33 33 33 33'));
    checkFrame(a);
    assert.deepEqual([...a.subarray(1, 7)], [0x11, 0x11, 0x11, 0x11, 0x11, 0x11]);
    link.faults.set({ mode: 'bad-checksum', count: 1 });
    const bad = await ask(hex('68 61 01 00 00 00 00 68 11 04 33 34 34 35 17 16'));
    assert.notEqual(bad.at(-2), sum8(bad, 0, bad.length - 2));
  } finally {
    socket.destroy();
    await link.close();
  }
});

test('sim dlt645: meter on a serial line (socat pty pair)', async () => {
  const pty = await ptyPair();
  const meterPort = await openSerial(pty.a, 2400);
  const master = await openSerial(pty.b, 2400);
  const link = serveDlt645Stream(meterPort, [new Dlt645Meter('000000000161')]);
  try {
    const answer = await new Promise<Buffer>((resolve) => {
      let buf = Buffer.alloc(0);
      master.on('data', (d: Buffer) => {
        buf = Buffer.concat([buf, d]);
        if (buf.length >= 18) resolve(buf);
      });
      master.write(hex('FE FE FE FE 68 61 01 00 00 00 00 68 11 04 33 34 34 35 17 16'));
    });
    checkFrame(answer);
    assert.equal(replyValue(answer, 1).di, '02010100');
  } finally {
    link.stop();
    await closeSerial(master);
    await closeSerial(meterPort);
    await pty.close();
  }
});

test('sim dlt645: answers frames built by the dlt645-2007 contract; its replies decode with it', () => {
  const contract = builtinContract('dlt645-2007');
  const meter = new Dlt645Meter('000000000161');
  for (const [di, item, lo, hi] of [
    ['02010100', 'voltage_a', 200, 260],
    ['00010000', 'energy_active_forward_total', 1000, 2000],
    ['02800002', 'frequency', 49.5, 50.5],
    ['02060000', 'power_factor_total', 0.8, 1],
  ] as const) {
    const request = contract.encode('read', { address: '000000000161', di });
    const cut = meter.extract(request);
    assert.ok('frame' in cut);
    const decoded = contract.decode(meter.answer(cut.frame)!);
    assert.ok(decoded.ok, JSON.stringify(decoded));
    const point = decoded.points.find((p) => p.name === item);
    assert.ok(
      point && (point.value as number) >= lo && (point.value as number) <= hi,
      `${item}: ${point?.value}`,
    );
  }
  const ask = (frame: Uint8Array) => {
    const cut = meter.extract(frame); // strips the FE wake-up prefix
    assert.ok('frame' in cut);
    return meter.answer(cut.frame)!;
  };
  const refused = contract.decode(ask(contract.encode('read', { address: '000000000161', di: '99999999' })));
  assert.ok(
    refused.ok && refused.fields.error === true && refused.fields.errorCode === 2,
    JSON.stringify(refused),
  );
  const trip = contract.decode(ask(contract.encode('relay', { address: '000000000161', action: 'trip' })));
  assert.ok(trip.ok && trip.fields.error === false, JSON.stringify(trip));
  assert.equal(meter.model.read().relayOn, false);
});
