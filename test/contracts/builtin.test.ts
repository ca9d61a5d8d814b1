// Built-in contracts: inline tests, encoders the gateway polls with, context naming, points.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { builtinContract, detectContract, listBuiltinContracts } from '../../src/contracts/index.ts';
import { parseHex, toHexString } from '../../src/contracts/primitives.ts';

const hex = (b: Uint8Array): string => toHexString(b, 0, b.length, false);

for (const id of listBuiltinContracts()) {
  test(`built-in ${id} loads and passes its inline tests`, () => {
    const c = builtinContract(id);
    assert.equal(c.id, id);
    const report = c.runTests();
    assert.ok(report.cases.length >= 3, 'has inline tests');
    assert.deepEqual(
      report.cases.filter((x) => !x.ok),
      [],
    );
  });
}

// Independent reference: CRC-16/MODBUS bit by bit, as in the Modbus over serial line spec (6.2.2).
function crc16(bytes: number[]): number[] {
  let crc = 0xffff;
  for (const b of bytes) {
    crc ^= b;
    for (let i = 0; i < 8; i++) crc = crc & 1 ? (crc >> 1) ^ 0xa001 : crc >> 1;
  }
  return [crc & 0xff, crc >> 8];
}

test('modbus-rtu encodes every request function with a correct CRC', () => {
  const c = builtinContract('modbus-rtu');
  const cases: [string, Record<string, unknown>, number[]][] = [
    ['read-coils', { unit: 2, start: 19, count: 37 }, [2, 1, 0, 19, 0, 37]],
    ['read-discrete-inputs', { unit: 2, start: 196, count: 22 }, [2, 2, 0, 196, 0, 22]],
    ['read-holding-registers', { unit: 1, start: 107, count: 3 }, [1, 3, 0, 107, 0, 3]],
    ['read-input-registers', { unit: 1, start: 8, count: 1 }, [1, 4, 0, 8, 0, 1]],
    ['write-single-coil', { unit: 1, address: 172, value: true }, [1, 5, 0, 172, 0xff, 0]],
    ['write-single-register', { unit: 1, address: 1, value: -2 }, [1, 6, 0, 1, 0xff, 0xfe]],
    [
      'write-multiple-coils',
      { unit: 1, start: 19, values: [1, 0, 1, 1, 0, 0, 1, 1, 1, 0] },
      [1, 15, 0, 19, 0, 10, 2, 0xcd, 0x01],
    ],
    [
      'write-multiple-registers',
      { unit: 1, start: 1, values: [10, 258] },
      [1, 16, 0, 1, 0, 2, 4, 0, 10, 1, 2],
    ],
  ];
  for (const [msg, params, body] of cases) {
    assert.equal(hex(c.encode(msg, params)), hex(Uint8Array.from([...body, ...crc16(body)])), msg);
  }
  assert.ok(c.messages.includes('read-holding-registers'));
});

test('modbus encoders reject bad parameters naming the parameter', () => {
  const c = builtinContract('modbus-rtu');
  assert.throws(
    () => c.encode('read-holding-registers', { unit: 1, start: 70000, count: 1 }),
    /read-holding-registers\.start/,
  );
  assert.throws(() => c.encode('read-holding-registers', { start: 0 }), /unit: required/);
  assert.throws(
    () => c.encode('read-holding-registers', { unit: 1, start: 0, bogus: 1 }),
    /bogus: unknown parameter/,
  );
  assert.throws(() => c.encode('no-such', {}), /has no message 'no-such'/);
});

test('modbus-tcp encodes reads and multiple writes with the MBAP length', () => {
  const c = builtinContract('modbus-tcp');
  assert.equal(
    hex(c.encode('read-input-registers', { transaction: 7, unit: 9, start: 1, count: 4 })),
    '000700000006090400010004',
  );
  assert.equal(
    hex(c.encode('write-multiple-registers', { transaction: 1, unit: 1, start: 1, values: [10, 258] })),
    '00010000000B01100001000204000A0102',
  );
  const r = c.decode(
    c.encode('write-multiple-registers', { transaction: 1, unit: 1, start: 1, values: [10, 258] }),
  );
  assert.ok(r.ok);
  assert.deepEqual(r.ok && r.fields.registers, [10, 258]);
});

test('modbus response registers are named from the request context', () => {
  const c = builtinContract('modbus-rtu');
  const frame = c.encode('read-registers-response', { unit: 3, function: 4, values: [2301, 65535] });
  const r = c.decode(frame, { start: 30, names: ['voltage'] });
  assert.ok(r.ok);
  assert.deepEqual(r.ok && r.points, [
    { name: 'voltage', value: 2301 },
    { name: 'input.31', value: 65535 },
  ]);
});

test('modbus coil responses decode to booleans trimmed to the requested count', () => {
  const c = builtinContract('modbus-rtu');
  const frame = c.encode('read-bits-response', { unit: 1, function: 1, values: [true, false, true] });
  const r = c.decode(frame, { direction: 'response', start: 10, count: 3 });
  assert.ok(r.ok, JSON.stringify(r));
  assert.deepEqual(r.ok && r.fields.bits, [true, false, true]);
  assert.deepEqual(r.ok && r.points.map((p) => p.name), ['coil.10', 'coil.11', 'coil.12']);
});

// Independent reference for DL/T 645: sum mod 256 and +33H by hand.
function dlt(address: string, control: number, data: number[]): string {
  const addr = parseHex(address).reverse();
  const body = [0x68, ...addr, 0x68, control, data.length, ...data.map((b) => (b + 0x33) & 0xff)];
  const cs = body.reduce((a, b) => a + b, 0) & 0xff;
  return hex(Uint8Array.from([0xfe, 0xfe, 0xfe, 0xfe, ...body, cs, 0x16]));
}

test('dlt645-2007 encodes relay control (1CH) with +33H and sum8', () => {
  const c = builtinContract('dlt645-2007');
  const frame = c.encode('relay', {
    address: '000000000161',
    action: 'trip',
    password: '123456',
    operator: '00000001',
  });
  const data = [0x02, 0x56, 0x34, 0x12, 0x01, 0, 0, 0, 0x1a, 0x00, 0x59, 0x59, 0x23, 0x31, 0x12, 0x99];
  assert.equal(hex(frame), dlt('000000000161', 0x1c, data));
  const r = c.decode(frame);
  assert.ok(r.ok, JSON.stringify(r));
  assert.equal(r.ok && r.fields.action, 'trip');
  assert.equal(r.ok && r.fields.validUntil, '991231235959');
  assert.throws(() => c.encode('relay', { address: '000000000161', action: 'explode' }), /relay/);
});

test('dlt645-2007 decodes current, power, power factor and frequency with signs and units', () => {
  const c = builtinContract('dlt645-2007');
  const cases: [string, string, number, string | undefined][] = [
    ['02020100', '001250', 1.25, 'A'], // XXX.XXX A, little-endian BCD 001.250
    ['02020200', '801250', -1.25, 'A'], // sign bit set in the most significant byte
    ['02030000', '012345', 1.2345, 'kW'],
    ['02060000', '0995', 0.995, undefined],
    ['02800002', '5002', 50.02, 'Hz'],
  ];
  for (const [di, digits, value, unit] of cases) {
    const frame = c.encode('read-response', { address: '000000000161', di, data: digits });
    const r = c.decode(frame);
    assert.ok(r.ok, `${di}: ${JSON.stringify(r)}`);
    assert.equal(r.ok && r.fields.value, value, di);
    assert.equal(r.ok && r.points[0]?.unit, unit, di);
  }
});

test('dlt645-2007 decodes block reads into values and error responses into a reason', () => {
  const c = builtinContract('dlt645-2007');
  const block = c.decode(
    c.encode('read-response', { address: '000000000161', di: '0201FF00', data: '230122012201' }),
  );
  assert.ok(block.ok, JSON.stringify(block));
  assert.deepEqual(block.ok && block.fields.values, [220.1, 220.1, 230.1]);
  const err = c.decode(c.encode('error-response', { address: '000000000161', code: 2 }));
  assert.ok(err.ok);
  assert.equal(err.ok && err.fields.errors, 'no-data');
  assert.equal(err.ok && err.fields.control, '0xD1');
});

test('detectContract identifies frames of each built-in kind', () => {
  assert.equal(
    detectContract(parseHex('68 61 01 00 00 00 00 68 91 08 33 33 34 33 59 33 33 33 8A 16'))?.id,
    'dlt645-2007',
  );
  assert.equal(detectContract(parseHex('01 04 04 00 00 08 E6 7D CE'))?.id, 'modbus-rtu');
  assert.equal(detectContract(parseHex('00 01 00 00 00 07 01 03 04 00 05 00 06'))?.id, 'modbus-tcp');
  assert.equal(builtinContract('modbus-rtu').detect(parseHex('01 04 04 00 00 08 E6 7D CF')), false);
});

test('split finds DL/T 645 frames in a byte stream with noise and wake-up bytes', () => {
  const c = builtinContract('dlt645-2007');
  const frame = parseHex('68 61 01 00 00 00 00 68 91 08 33 33 34 33 59 33 33 33 8A 16');
  let stream = Uint8Array.from([0x00, 0x13, 0xfe, 0xfe, ...frame, 0xfe, ...frame.subarray(0, 5)]);
  const found: string[] = [];
  for (let guard = 0; guard < 50; guard++) {
    const r = c.split(stream);
    if ('need' in r) break;
    if ('skip' in r) stream = stream.subarray(r.skip);
    else {
      found.push(hex(r.frame));
      stream = stream.subarray(r.end);
    }
  }
  assert.deepEqual(found, [hex(frame)]);
  assert.deepEqual(c.split(stream), { need: 5 }); // until byte(9), the length, has arrived
});

test('split finds Modbus RTU responses and resynchronises after a bad CRC', () => {
  const c = builtinContract('modbus-rtu');
  const good = parseHex('01 04 04 00 00 08 E6 7D CE');
  const bad = parseHex('01 04 04 00 00 08 E6 7D CF');
  assert.deepEqual(c.split(good.subarray(0, 2)), { need: 1 });
  assert.deepEqual(c.split(good.subarray(0, 4)), { need: 5 });
  const r = c.split(Uint8Array.from([...good, ...good]));
  assert.ok('frame' in r && r.end === 9);
  assert.deepEqual(c.split(bad), { skip: 1 });
});
