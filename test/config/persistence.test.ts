// `broker.persistence`: default, file, environment and flags, and what each value means per command.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, DEFAULT_CONFIG, loadConfig, persistencePath } from '../../src/app/config/index.ts';
import { parseBrokerArgs } from '../../src/cli/commands/broker.ts';
import { parseUpArgs } from '../../src/cli/commands/up.ts';
import { CliError } from '../../src/cli/errors.ts';

test('broker.persistence defaults to auto: memory for mqiot broker, the data-dir file for mqiot up', () => {
  assert.equal(DEFAULT_CONFIG.broker.persistence, 'auto');
  assert.equal(persistencePath('auto', null), null);
  assert.equal(persistencePath('auto', '/data/broker.db'), '/data/broker.db');
});

test('broker.persistence: off, none, null turn it off; anything else is the file', () => {
  for (const off of ['off', 'OFF', 'none', 'memory', 'null', null]) {
    assert.equal(persistencePath(off, '/data/broker.db'), null, String(off));
  }
  assert.equal(persistencePath('/var/lib/mqiot/broker.db', '/data/broker.db'), '/var/lib/mqiot/broker.db');
  assert.equal(persistencePath('rel/broker.db', null), 'rel/broker.db');
});

test('MQIOT_BROKER_PERSISTENCE sets it (a file, or off — which stays off for mqiot up)', () => {
  const file = loadConfig({ env: { MQIOT_BROKER_PERSISTENCE: '/tmp/b.db' } });
  assert.equal(file.broker.persistence, '/tmp/b.db');
  const off = loadConfig({ env: { MQIOT_BROKER_PERSISTENCE: 'off' } });
  assert.equal(persistencePath(off.broker.persistence, '/data/broker.db'), null);
});

test('broker.persistence in a file: a path or null; other types are refused naming the field', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mqiot-persist-cfg-'));
  try {
    const good = join(dir, 'good.yaml');
    writeFileSync(good, 'broker:\n  persistence: null\n');
    assert.equal(loadConfig({ file: good, env: {} }).broker.persistence, null);
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'broker:\n  persistence: 5\n');
    assert.throws(
      () => loadConfig({ file: bad, env: {} }),
      (e: unknown) => e instanceof ConfigError && /broker\.persistence/.test(e.message),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('--persistence FILE|off on mqiot broker and mqiot up wins over the environment', () => {
  const b = parseBrokerArgs(['--persistence', 'off']);
  const cfg = loadConfig({ env: { MQIOT_BROKER_PERSISTENCE: '/tmp/env.db' }, overrides: b.overrides });
  assert.equal(persistencePath(cfg.broker.persistence, null), null);
  const u = parseUpArgs(['--persistence', '/tmp/flag.db']);
  assert.equal(loadConfig({ env: {}, overrides: u.overrides }).broker.persistence, '/tmp/flag.db');
  assert.equal(parseBrokerArgs([]).overrides.broker?.persistence, undefined);
  assert.throws(() => parseBrokerArgs(['--persistence', '']), CliError);
  assert.throws(() => parseUpArgs(['--persistence', ' ']), CliError);
});
