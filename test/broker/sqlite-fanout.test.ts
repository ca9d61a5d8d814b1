/**
 * The SQLite store keeps a message routed to many persistent sessions once (a `messages` row and one
 * small `outgoing` row per session) and a message for one session in that session's row, deletes a
 * shared message with its last reference, gives sessions restored from the file one shared message
 * object, and migrates a file written in the version 1 layout (a copy of the message in every
 * outgoing row) when it opens it.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { SQLITE_SCHEMA_VERSION, SqliteSessionStore } from '../../src/broker/store/sqlite.ts';
import type { OutgoingRecord } from '../../src/broker/store/types.ts';
import type { Message } from '../../src/broker/types.ts';
import { connected, newBroker } from './fakes.ts';
import { tempDir } from '../support/temp.ts';

const dir = tempDir({ after }, 'mqiot-sqlite-fanout-');
let n = 0;
const freshFile = (): string => join(dir, `fan-${++n}.db`);

/** Row counts of a closed store's file; payload bytes in `messages` and in outgoing rows that hold their own. */
function countRows(path: string): {
  messages: number;
  outgoing: number;
  payloadBytes: number;
  ownBytes: number;
} {
  const db = new Database(path, { readonly: true });
  try {
    const one = (sql: string): number => (db.prepare(sql).pluck().get() as number | null) ?? 0;
    return {
      messages: one('SELECT count(*) FROM messages'),
      outgoing: one('SELECT count(*) FROM outgoing'),
      payloadBytes: one('SELECT sum(length(payload)) FROM messages'),
      ownBytes: one('SELECT sum(length(payload)) FROM outgoing'),
    };
  } finally {
    db.close();
  }
}

const SESSIONS = 50;

/** A broker on `path` with SESSIONS offline persistent sessions subscribed to `fan` at QoS 1. */
function brokerWithOfflineSessions(path: string) {
  const { broker } = newBroker({}, { store: new SqliteSessionStore({ path }) });
  for (let i = 0; i < SESSIONS; i++) {
    const c = connected(broker, `s${i}`, { properties: { sessionExpiryInterval: 3600 } });
    c.ch.handlePacket({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'fan', qos: 1 }] });
    c.ch.handleTransportClosed();
  }
  return broker;
}

test('sqlite: a message for 50 offline sessions is stored once; acknowledged by all, it is gone', async () => {
  const path = freshFile();
  const b1 = brokerWithOfflineSessions(path);
  const payload = Buffer.alloc(1000, 7);
  b1.publish({ topic: 'fan', payload, qos: 1 });
  b1.publish({ topic: 'fan', payload: Buffer.from('second'), qos: 1 });
  await b1.close();
  const stored = countRows(path);
  assert.equal(stored.messages, 2, 'two messages, each once');
  assert.equal(stored.outgoing, 2 * SESSIONS, 'one reference per session and message');
  assert.equal(stored.payloadBytes, 1000 + 'second'.length);
  assert.equal(stored.ownBytes, 0, 'no session row keeps a copy');

  // every session comes back, gets both and acknowledges them; one more stays away
  const { broker: b2 } = newBroker({}, { store: new SqliteSessionStore({ path }) });
  await b2.ready;
  for (let i = 0; i < SESSIONS - 1; i++) {
    const c = connected(b2, `s${i}`, { clean: false, properties: { sessionExpiryInterval: 3600 } });
    const got = c.out.take().filter((p) => p.cmd === 'publish') as { messageId: number; payload: Buffer }[];
    assert.deepEqual(
      got.map((p) => p.payload.length),
      [1000, 6],
      `session s${i} gets both messages`,
    );
    for (const p of got) c.ch.handlePacket({ cmd: 'puback', messageId: p.messageId });
  }
  await b2.close();
  const left = countRows(path);
  assert.deepEqual([left.messages, left.outgoing], [2, 2], 'kept for the one session still away');

  // the last session acknowledges: nothing is left in the file
  const { broker: b3 } = newBroker({}, { store: new SqliteSessionStore({ path }) });
  const last = connected(b3, `s${SESSIONS - 1}`, {
    clean: false,
    properties: { sessionExpiryInterval: 3600 },
  });
  const got = last.out.take().filter((x) => x.cmd === 'publish');
  assert.equal(got.length, 2);
  for (const p of got) last.ch.handlePacket({ cmd: 'puback', messageId: p.messageId });
  await b3.close();
  assert.deepEqual(countRows(path), { messages: 0, outgoing: 0, payloadBytes: 0, ownBytes: 0 });
});

const message = (payload: string): Message => ({
  topic: 't',
  payload: Buffer.from(payload),
  qos: 1,
  retain: false,
  properties: undefined,
  expiresAt: 0,
  origin: 'pub',
});
const queued = (seq: number, m: Message): OutgoingRecord => ({
  seq,
  state: 'queued',
  packetId: 0,
  message: m,
  qos: 1,
  retain: false,
  subscriptionIds: [],
});

test('sqlite: a message for one session stays in its row (one insert, one delete, as before)', async () => {
  const path = freshFile();
  const store = new SqliteSessionStore({ path });
  for (let i = 1; i <= 3; i++) await store.saveOutgoing('one', queued(i, message(`m${i}`)));
  await store.deleteOutgoing('one', 2);
  store.close();
  assert.deepEqual(countRows(path), { messages: 0, outgoing: 2, payloadBytes: 0, ownBytes: 4 });
});

test('sqlite: a message saved again later for another session (a retained one) moves to messages then', async () => {
  const path = freshFile();
  const store = new SqliteSessionStore({ path });
  const retained = message('kept');
  await store.saveOutgoing('a', queued(1, retained));
  await store.saveOutgoing('a', { ...queued(1, retained), state: 'sent', packetId: 9 }); // same row again: stays
  await store.saveOutgoing('b', queued(4, retained)); // a second session: shared from now on
  await store.saveOutgoing('c', queued(7, retained));
  await store.deleteOutgoing('a', 1);
  assert.deepEqual(
    [
      store.loadOutgoing('b')[0]?.message.payload.toString(),
      store.loadOutgoing('c')[0]?.message.payload.toString(),
    ],
    ['kept', 'kept'],
  );
  // the only holder of a message is gone: a later save of that object stores it anew
  const lone = message('lone');
  await store.saveOutgoing('d', queued(1, lone));
  await store.deleteSession('d');
  await store.saveOutgoing('e', queued(1, lone));
  assert.equal(store.loadOutgoing('e')[0]?.message.payload.toString(), 'lone');
  store.close();
  assert.deepEqual(countRows(path), { messages: 1, outgoing: 3, payloadBytes: 4, ownBytes: 4 });
  const again = new SqliteSessionStore({ path });
  await again.deleteOutgoing('b', 4);
  await again.deleteOutgoing('c', 7); // the counts were rebuilt from the file at open
  again.close();
  assert.deepEqual(countRows(path), { messages: 0, outgoing: 1, payloadBytes: 0, ownBytes: 4 });
});

test('sqlite: sessions restored from the file share one message object per stored message', async () => {
  const path = freshFile();
  const b1 = brokerWithOfflineSessions(path);
  b1.publish({ topic: 'fan', payload: Buffer.from('one'), qos: 1 });
  await b1.close();
  const store = new SqliteSessionStore({ path });
  try {
    const loaded = store.loadSessions().map((s) => store.loadOutgoing(s.clientId));
    assert.equal(loaded.length, SESSIONS);
    const messages = new Set(loaded.map((list) => list[0]?.message));
    assert.equal(messages.size, 1, 'one object for all sessions');
    assert.equal([...messages][0]?.payload.toString(), 'one');
  } finally {
    store.close();
  }
});

test('sqlite: a session ended while a shared message is queued releases only its reference', async () => {
  const path = freshFile();
  const b1 = brokerWithOfflineSessions(path);
  b1.publish({ topic: 'fan', payload: Buffer.from('x'), qos: 1 });
  // s0 comes back with clean start: its session and its reference go
  connected(b1, 's0', { clean: true }).ch.handleTransportClosed();
  await b1.close();
  assert.deepEqual([countRows(path).messages, countRows(path).outgoing], [1, SESSIONS - 1]);
});

/** The version 1 layout, as mqiot wrote it before messages were stored once. */
const V1_SCHEMA = `
CREATE TABLE sessions (client_id TEXT PRIMARY KEY, expiry_interval INTEGER NOT NULL,
  disconnected_at INTEGER NOT NULL, protocol_version INTEGER NOT NULL, username TEXT,
  has_client INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;
CREATE TABLE subscriptions (client_id TEXT NOT NULL, filter TEXT NOT NULL, qos INTEGER NOT NULL,
  no_local INTEGER NOT NULL, retain_as_published INTEGER NOT NULL, retain_handling INTEGER NOT NULL,
  subscription_id INTEGER, PRIMARY KEY (client_id, filter)) WITHOUT ROWID;
CREATE TABLE outgoing (client_id TEXT NOT NULL, seq INTEGER NOT NULL, state TEXT NOT NULL,
  packet_id INTEGER NOT NULL, qos INTEGER NOT NULL, retain INTEGER NOT NULL,
  subscription_ids TEXT NOT NULL, topic TEXT NOT NULL, payload BLOB NOT NULL,
  message_qos INTEGER NOT NULL, message_retain INTEGER NOT NULL, properties TEXT,
  expires_at INTEGER NOT NULL, origin TEXT NOT NULL, PRIMARY KEY (client_id, seq));
CREATE TABLE incoming_qos2 (client_id TEXT NOT NULL, packet_id INTEGER NOT NULL,
  PRIMARY KEY (client_id, packet_id)) WITHOUT ROWID;
CREATE TABLE retained (topic TEXT PRIMARY KEY, payload BLOB NOT NULL, qos INTEGER NOT NULL,
  retain INTEGER NOT NULL, properties TEXT, expires_at INTEGER NOT NULL, origin TEXT NOT NULL);
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
PRAGMA user_version = 1;
`;

test('sqlite: a version 1 file is migrated at open — copies merged, states, ids and properties kept', async () => {
  const path = freshFile();
  const v1 = new Database(path);
  v1.exec(V1_SCHEMA);
  const session = v1.prepare('INSERT INTO sessions VALUES (?, 3600, 1000, ?, ?, 1)');
  session.run('a', 5, 'alice');
  session.run('b', 4, null);
  v1.prepare("INSERT INTO subscriptions VALUES ('a', 'fan', 2, 0, 1, 0, 9)").run();
  v1.prepare("INSERT INTO subscriptions VALUES ('b', 'fan', 1, 0, 0, 0, NULL)").run();
  const out = v1.prepare(`INSERT INTO outgoing VALUES (?, ?, ?, ?, ?, 0, ?, ?, ?, ?, 0, ?, ?, 'pub')`);
  const props = JSON.stringify({
    v: { contentType: 'text/plain', correlationData: 'AQI=' },
    bin: ['correlationData'],
  });
  // the same message queued for a and b (two copies), a second one sent to a, a third released to b
  out.run('a', 1, 'queued', 0, 2, '[9]', 'fan', Buffer.from('shared'), 2, props, 0);
  out.run('b', 1, 'queued', 0, 1, '[]', 'fan', Buffer.from('shared'), 2, props, 0);
  out.run('a', 2, 'sent', 17, 1, '[9]', 'fan', Buffer.from('own'), 1, null, 0);
  out.run('b', 2, 'pubrel', 23, 2, '[]', 'fan', Buffer.from('done'), 2, null, 99_000);
  v1.prepare("INSERT INTO incoming_qos2 VALUES ('a', 77)").run();
  v1.prepare("INSERT INTO retained VALUES ('r', ?, 0, 1, NULL, 0, 'pub')").run(Buffer.from('kept'));
  v1.close();

  const store = new SqliteSessionStore({ path });
  try {
    const sessions = store.loadSessions().sort((x, y) => x.clientId.localeCompare(y.clientId));
    assert.deepEqual(
      sessions.map((s) => [s.clientId, s.protocolVersion, s.username, s.subscriptions.length]),
      [
        ['a', 5, 'alice', 1],
        ['b', 4, null, 1],
      ],
    );
    const a = store.loadOutgoing('a');
    const b = store.loadOutgoing('b');
    assert.deepEqual(
      a.map((r) => [r.seq, r.state, r.packetId, r.qos, r.subscriptionIds, r.message.payload.toString()]),
      [
        [1, 'queued', 0, 2, [9], 'shared'],
        [2, 'sent', 17, 1, [9], 'own'],
      ],
    );
    assert.deepEqual(
      b.map((r) => [r.seq, r.state, r.packetId, r.qos, r.subscriptionIds, r.message.payload.toString()]),
      [
        [1, 'queued', 0, 1, [], 'shared'],
        [2, 'pubrel', 23, 2, [], 'done'],
      ],
    );
    assert.equal(a[0]?.message, b[0]?.message, 'the two copies became one message');
    assert.deepEqual(a[0]?.message.properties?.correlationData, Buffer.from([1, 2]));
    assert.equal(a[0]?.message.qos, 2);
    assert.equal(b[1]?.message.expiresAt, 99_000);
    assert.deepEqual(store.loadIncomingQoS2('a'), [77]);
    assert.deepEqual(
      store.retained.load().map((m) => m.payload.toString()),
      ['kept'],
    );
    // the migrated file takes new writes and frees merged messages with their last reference
    await store.deleteOutgoing('a', 1);
    await store.deleteOutgoing('b', 1);
  } finally {
    store.close();
  }
  assert.deepEqual(countRows(path), {
    messages: 0,
    outgoing: 2,
    payloadBytes: 0,
    ownBytes: 'own'.length + 'done'.length,
  });
  const db = new Database(path, { readonly: true });
  try {
    assert.equal(db.pragma('user_version', { simple: true }), SQLITE_SCHEMA_VERSION);
    assert.equal(SQLITE_SCHEMA_VERSION, 2);
  } finally {
    db.close();
  }
});

test('sqlite: after a rolled-back commit the reference counts are those of the file again', async () => {
  const path = freshFile();
  const store = new SqliteSessionStore({ path });
  const m = message('shared');
  await Promise.all(['a', 'b', 'c'].map((c) => store.saveOutgoing(c, queued(1, m))));
  // the next COMMIT fails (as with a full disk): the two acknowledgements in it are rolled back
  const db = (store as unknown as { db: Database.Database }).db;
  const exec = db.exec.bind(db);
  let failNext = true;
  db.exec = (sql: string) => {
    if (sql === 'COMMIT' && failNext) {
      failNext = false;
      throw new Error('disk I/O error (test)');
    }
    return exec(sql);
  };
  const lost = Promise.all([store.deleteOutgoing('a', 1), store.deleteOutgoing('b', 1)]);
  await assert.rejects(lost, /transaction failed/);
  // the file still has three references: two acknowledgements must leave the message for the third
  await store.deleteOutgoing('a', 1);
  await store.deleteOutgoing('b', 1);
  assert.equal(store.loadOutgoing('c')[0]?.message.payload.toString(), 'shared');
  await store.deleteOutgoing('c', 1);
  store.close();
  assert.deepEqual(countRows(path), { messages: 0, outgoing: 0, payloadBytes: 0, ownBytes: 0 });
});
