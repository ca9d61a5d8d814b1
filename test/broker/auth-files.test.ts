/** Password file, ACL file and gateway rule: parsers and matchers, no sockets. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  Acl,
  AuthFileError,
  GatewayAcl,
  PasswordFile,
  hashPassword,
  parseAclFile,
  parsePasswordFile,
  removePasswordLine,
  setPasswordLine,
} from '../../src/broker/auth/index.ts';
import { compileFilter, FilterSet, filterCovers, filtersOverlap } from '../../src/broker/auth/topic-rules.ts';
import { topicMatches } from '../../src/protocol/topic.ts';
import type { ClientInfo } from '../../src/broker/types.ts';

const run = promisify(execFile);

function client(username: string | undefined, clientId = 'c1'): ClientInfo {
  return { clientId, username, protocolVersion: 5, remoteAddress: '127.0.0.1', transport: 'tcp' };
}

// ---- topic relations ----

test('FilterSet (the PUBLISH trie) agrees with the reference matcher, alone and in sets', () => {
  const filters = [
    '#',
    '+',
    'a',
    'a/b',
    'a/+',
    'a/#',
    '+/b',
    '+/+',
    'a/+/c',
    '$SYS/#',
    '+/#',
    'a//b',
    'a/',
    '/a',
    '$SYS',
  ];
  const topics = [
    'a',
    'a/b',
    'a/b/c',
    'a/c',
    'b',
    'a/',
    '/a',
    'a//b',
    '$SYS/x',
    '$SYS',
    'x/b',
    'a/x/c',
    '$other/a',
  ];
  for (let size = 1; size <= 3; size++) {
    for (let start = 0; start < filters.length; start++) {
      const chosen = Array.from({ length: size }, (_, k) => filters[(start + k * 5) % filters.length]!);
      const set = new FilterSet();
      for (const f of chosen) set.add(compileFilter(f));
      for (const t of topics) {
        assert.equal(
          set.matches(t),
          chosen.some((f) => topicMatches(f, t)),
          `${chosen.join(',')} vs ${t}`,
        );
      }
    }
  }
  assert.equal(new FilterSet().matches('a'), false);
});

test('filterCovers: a subscription inside a rule, not wider', () => {
  const covers = (outer: string, inner: string): boolean =>
    filterCovers(compileFilter(outer), compileFilter(inner));
  assert.equal(covers('a/#', 'a/b/c'), true);
  assert.equal(covers('a/#', 'a/+'), true);
  assert.equal(covers('a/#', 'a'), true);
  assert.equal(covers('a/#', 'a/#'), true);
  assert.equal(covers('a/+', 'a/b'), true);
  assert.equal(covers('a/+', 'a/#'), false);
  assert.equal(covers('a/b', 'a/+'), false);
  assert.equal(covers('a/b', 'a/b/c'), false);
  assert.equal(covers('#', '$SYS/x'), false);
  assert.equal(covers('$SYS/#', '$SYS/broker/uptime'), true);
  assert.equal(covers('#', '+/x'), true);
});

test('filtersOverlap: two filters sharing a topic', () => {
  const overlap = (a: string, b: string): boolean => filtersOverlap(compileFilter(a), compileFilter(b));
  assert.equal(overlap('a/#', 'a/secret'), true);
  assert.equal(overlap('a/secret', '#'), true);
  assert.equal(overlap('a/+/c', 'a/b/+'), true);
  assert.equal(overlap('a/b', 'a/c'), false);
  assert.equal(overlap('a', 'a/#'), true);
  assert.equal(overlap('a', 'a/+'), false);
  assert.equal(overlap('#', '$SYS/x'), false);
  assert.equal(overlap('+/b', 'a/#'), true);
});

// ---- password file ----

test('password file: $7$ (PBKDF2-SHA512) and $6$ (SHA-512) entries verify, wrong ones do not', async () => {
  const h7 = await hashPassword('secret');
  assert.match(h7, /^\$7\$101\$[A-Za-z0-9+/]{16}\$[A-Za-z0-9+/]{86}==$/);
  // the $6$ line from Debian's `mosquitto_passwd -H sha512 -b FILE carol pass6`
  const h6 =
    '$6$T76LwtexFboOXdMd$jmh2l6SRRk4Al9RQMSamjEvcoDjdzmQf7IlXO0GULa9OutKvcrP8SPtCeLeJEyo70CxN8dNumxmPi7/QLBGwmA==';
  const pf = new PasswordFile('mem', parsePasswordFile(`# users\n\nalice:${h7}\ncarol:${h6}\n`, 'mem'));
  assert.equal(pf.size, 2);
  assert.equal(await pf.verify('alice', Buffer.from('secret')), true);
  assert.equal(await pf.verify('alice', Buffer.from('Secret')), false);
  assert.equal(await pf.verify('carol', Buffer.from('pass6')), true);
  assert.equal(await pf.verify('carol', Buffer.from('pass7')), false);
  assert.equal(await pf.verify('nobody', Buffer.from('secret')), false);
});

test('password file: a real file from Debian mosquitto_passwd -b -c verifies', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'mqiot-auth-'));
  try {
    const file = join(dir, 'pw');
    await run('mosquitto_passwd', ['-b', '-c', file, 'dev1', 'pä$$:word']);
    await run('mosquitto_passwd', ['-b', file, 'dev 2', 'other']);
    const pf = PasswordFile.load(file);
    assert.equal(pf.size, 2);
    assert.equal(await pf.verify('dev1', Buffer.from('pä$$:word')), true);
    assert.equal(await pf.verify('dev 2', Buffer.from('other')), true);
    assert.equal(await pf.verify('dev1', Buffer.from('other')), false);
    // and the format we write is the one mosquitto_passwd wrote: $7$, same iteration count
    const theirs = readFileSync(file, 'utf8').split('\n')[0]!.split(':')[1]!.split('$');
    const ours = (await hashPassword('x')).split('$');
    assert.deepEqual(
      [ours[1], ours[2], ours[3]!.length, ours[4]!.length],
      [theirs[1], theirs[2], theirs[3]!.length, theirs[4]!.length],
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('password file: verified pairs are cached, failures only for a while', async () => {
  let now = 1000;
  const entries = parsePasswordFile(`alice:${await hashPassword('secret')}\n`, 'mem');
  const pf = new PasswordFile('mem', entries, { failureTtlMs: 5000, successTtlMs: 60_000, now: () => now });
  const good = Buffer.from('secret');
  const bad = Buffer.from('nope');
  // a storm of the same good credentials: one derivation
  const results = await Promise.all(Array.from({ length: 50 }, () => pf.verify('alice', good)));
  assert.ok(results.every((r) => r === true));
  assert.equal(pf.derivations, 1);
  assert.equal(await pf.verify('alice', bad), false);
  assert.equal(await pf.verify('alice', bad), false);
  assert.equal(pf.derivations, 2);
  now += 5001; // failure forgotten, success still known
  assert.equal(await pf.verify('alice', bad), false);
  assert.equal(await pf.verify('alice', good), true);
  assert.equal(pf.derivations, 3);
  now += 60_000; // success forgotten too
  assert.equal(await pf.verify('alice', good), true);
  assert.equal(pf.derivations, 4);
});

test('password file: malformed lines name the file and the line', () => {
  const good =
    '$7$101$83mQpUmXhgyyhL7y$kxjnYaeyjiSbJHrz/0vhIAxWVVRVL7sYu5Vo/bDkqx3y9Hwt4JpuIC1g/CqN0bkqagSdtm/L7FCoafQgOGzQHQ==';
  const cases: [string, number, RegExp][] = [
    [`alice:${good}\nbob\n`, 2, /no username or no ':'/],
    [`# c\n\nbob:plaintext\n`, 3, /not a mosquitto_passwd hash/],
    [`bob:$5$abc$def\n`, 1, /unknown hash type/],
    [`bob:$7$x$83mQpUmXhgyyhL7y$${good.split('$')[4]}\n`, 1, /iteration count 'x'/],
    [`bob:$7$101$83mQ!!$${good.split('$')[4]}\n`, 1, /salt is not base64/],
    [`bob:$7$101$83mQpUmXhgyyhL7y$AAAA\n`, 1, /hash is 3 bytes/],
    [`alice:${good}\nalice:${good}\n`, 2, /already defined on line 1/],
  ];
  for (const [text, line, why] of cases) {
    assert.throws(
      () => parsePasswordFile(text, '/etc/mqiot/pw'),
      (err: unknown) =>
        err instanceof AuthFileError &&
        err.line === line &&
        err.message.startsWith(`/etc/mqiot/pw:${line}: `) &&
        why.test(err.message),
      text,
    );
  }
  assert.throws(() => PasswordFile.load('/nonexistent/pw'), /\/nonexistent\/pw: cannot read password file/);
});

test('setPasswordLine replaces a user in place and appends a new one', () => {
  const text = '# header\nalice:$7$old\nbob:$7$b\n';
  assert.equal(setPasswordLine(text, 'alice', '$7$new'), '# header\nalice:$7$new\nbob:$7$b\n');
  assert.equal(setPasswordLine(text, 'carol', '$7$c'), '# header\nalice:$7$old\nbob:$7$b\ncarol:$7$c\n');
  assert.equal(setPasswordLine('', 'carol', '$7$c'), 'carol:$7$c\n');
  assert.equal(setPasswordLine('al:$7$x\n', 'a', '$7$y'), 'al:$7$x\na:$7$y\n');
  assert.equal(removePasswordLine(text, 'alice'), '# header\nbob:$7$b\n');
  assert.equal(removePasswordLine(text, 'al'), undefined);
  assert.equal(removePasswordLine('bob:$7$b\n', 'bob'), '');
});

// ---- ACL file ----

const ACL = `
# anonymous clients
topic read public/#
topic deny public/private

user alice
topic readwrite alice/#
topic deny alice/secret
topic write telemetry/alice
topic read commands/+/alice
topic shared/topic with space

user bob
topic bob/#

pattern readwrite devices/%u/#
pattern read clients/%c/inbox
pattern deny devices/%u/locked
`;

test('ACL: anonymous rules apply to clients without a username', () => {
  const acl = new Acl(parseAclFile(ACL, 'acl'));
  const anon = client(undefined);
  assert.equal(acl.canSubscribe(anon, 'public/#'), true, 'granted: delivery skips public/private');
  assert.equal(acl.canRead(anon, 'public/news'), true);
  assert.equal(acl.canRead(anon, 'public/private'), false, 'deny wins at delivery');
  assert.equal(acl.canRead(anon, 'alice/x'), false);
  assert.equal(acl.canSubscribe(anon, 'public/news'), true);
  assert.equal(acl.canSubscribe(anon, 'public/private'), false);
  assert.equal(acl.canPublish(anon, 'public/news'), false, 'read only');
  assert.equal(acl.canPublish(anon, 'alice/x'), false);
  assert.equal(acl.canSubscribe(anon, 'clients/c1/inbox'), true, '%c patterns apply to anonymous clients');
  assert.equal(acl.canPublish(anon, 'devices//x'), false, '%u patterns do not apply without a username');
});

test('ACL: user rules, read/write/readwrite/deny, and a user gets no anonymous rules', () => {
  const acl = new Acl(parseAclFile(ACL, 'acl'));
  const alice = client('alice');
  assert.equal(acl.canPublish(alice, 'alice/x/y'), true);
  assert.equal(acl.canSubscribe(alice, 'alice/x/#'), true);
  assert.equal(acl.canPublish(alice, 'alice/secret'), false, 'deny overrides readwrite alice/#');
  assert.equal(acl.canSubscribe(alice, 'alice/secret'), false);
  assert.equal(acl.canSubscribe(alice, 'alice/#'), true, 'granted: delivery skips alice/secret');
  assert.equal(acl.canRead(alice, 'alice/secret'), false);
  assert.equal(acl.canRead(alice, 'alice/x'), true);
  assert.equal(acl.canPublish(alice, 'telemetry/alice'), true);
  assert.equal(acl.canSubscribe(alice, 'telemetry/alice'), false, 'write only');
  assert.equal(acl.canSubscribe(alice, 'commands/x/alice'), true);
  assert.equal(acl.canSubscribe(alice, 'commands/+/alice'), true);
  assert.equal(acl.canSubscribe(alice, 'commands/#'), true, 'wider than the rule: granted, filtered');
  assert.equal(acl.canRead(alice, 'commands/x/alice'), true);
  assert.equal(acl.canRead(alice, 'commands/x/bob'), false);
  assert.equal(acl.canSubscribe(alice, 'nothing/+'), false, 'nothing readable under it: refused');
  assert.equal(acl.canRead(alice, 'telemetry/alice'), false, 'write only');
  assert.equal(acl.canPublish(alice, 'commands/x/alice'), false, 'read only');
  assert.equal(
    acl.canPublish(alice, 'shared/topic with space'),
    true,
    'no access word: readwrite, rest of the line',
  );
  assert.equal(acl.canSubscribe(alice, 'public/news'), false, 'anonymous rules are not for users');
  assert.equal(acl.canPublish(client('bob'), 'bob/a'), true);
  assert.equal(acl.canPublish(client('bob'), 'alice/a'), false);
  assert.equal(
    acl.canPublish(client('carol'), 'carol/a'),
    false,
    'a user without a section has patterns only',
  );
  assert.equal(acl.canSubscribe(alice, '$share/g/alice/x/+'), true, 'shared: the inner filter is checked');
  assert.equal(acl.canSubscribe(alice, '$share/g/bob/#'), false);
});

test('ACL: %u and %c patterns apply to everyone, with their deny', () => {
  const acl = new Acl(parseAclFile(ACL, 'acl'));
  const carol = client('carol', 'carol-phone');
  assert.equal(acl.canPublish(carol, 'devices/carol/temp'), true);
  assert.equal(acl.canSubscribe(carol, 'devices/carol/#'), true, 'granted: delivery skips the locked one');
  assert.equal(acl.canRead(carol, 'devices/carol/locked'), false, 'pattern deny at delivery');
  assert.equal(acl.canRead(carol, 'devices/carol/temp'), true);
  assert.equal(acl.canRead(carol, 'devices/dave/temp'), false, '%u is carol');
  assert.equal(acl.canRead(carol, 'clients/carol-phone/inbox'), true, '%c');
  assert.equal(acl.canSubscribe(carol, 'devices/carol/locked'), false, 'all of it denied: refused');
  assert.equal(acl.canSubscribe(carol, 'devices/carol/temp'), true);
  assert.equal(acl.canPublish(carol, 'devices/carol/locked'), false);
  assert.equal(acl.canPublish(carol, 'devices/dave/temp'), false);
  assert.equal(acl.canSubscribe(carol, 'clients/carol-phone/inbox'), true);
  assert.equal(acl.canSubscribe(carol, 'clients/other/inbox'), false);
  assert.equal(
    acl.canPublish(client('alice'), 'devices/alice/x'),
    true,
    'patterns apply to users with a section',
  );
});

test('ACL: placeholders inside a level, and %u and %c together', () => {
  const acl = new Acl(
    parseAclFile('pattern write dev-%u/x\npattern read a/%u-%c/#\npattern write $SYS/c/%c/state\n', 'acl'),
  );
  const bob = client('bob', 'c9');
  assert.equal(acl.canPublish(bob, 'dev-bob/x'), true);
  assert.equal(acl.canPublish(bob, 'dev-bo/x'), false);
  assert.equal(acl.canPublish(bob, 'dev-bob/y'), false);
  assert.equal(acl.canSubscribe(bob, 'a/bob-c9/q'), true);
  assert.equal(acl.canSubscribe(bob, 'a/bob-c8/q'), false);
  assert.equal(
    acl.canPublish(client(undefined, 'c9'), 'dev-/x'),
    false,
    'no username: %u patterns do not apply',
  );
  assert.equal(acl.canPublish(bob, '$SYS/c/c9/state'), true, 'a literal $ first level in a pattern');
  assert.equal(acl.canPublish(bob, '$SYS/c/c8/state'), false);
});

test('ACL: a username or client id with +, #, / or a leading $ cannot widen a pattern (CVE-2017-7650)', () => {
  const acl = new Acl(parseAclFile('pattern readwrite devices/%u/#\npattern read in/%c\n', 'acl'));
  // with plain substitution `devices/+/#` would grant every device's subtree
  assert.equal(acl.canPublish(client('+'), 'devices/bob/x'), false);
  assert.equal(acl.canSubscribe(client('+'), 'devices/+/#'), false);
  assert.equal(acl.canPublish(client('#'), 'devices/bob'), false);
  assert.equal(acl.canSubscribe(client('#'), 'devices/#'), false);
  // `bob/x` would land inside bob's subtree
  assert.equal(acl.canPublish(client('bob/x'), 'devices/bob/x/y'), false);
  assert.equal(acl.canPublish(client('bob'), 'devices/bob/x/y'), true);
  assert.equal(acl.canSubscribe(client('u', '+'), 'in/x'), false);
  assert.equal(acl.canSubscribe(client('u', 'a/b'), 'in/a/b'), false);
  assert.equal(acl.canSubscribe(client('u', 'ab'), 'in/ab'), true);
  assert.equal(acl.canPublish(client(''), 'devices//x'), false, 'an empty username would drop a level');
  const root = new Acl(parseAclFile('pattern readwrite %u/#\n', 'acl'));
  assert.equal(root.canPublish(client('$SYS'), '$SYS/broker/x'), false);
  assert.equal(root.canPublish(client('sys'), 'sys/broker/x'), true);
});

test('ACL: the publish decision cache does not mix clients', () => {
  const acl = new Acl(parseAclFile('pattern write out/%u\n', 'acl'));
  const a = client('a');
  const b = client('b');
  for (let i = 0; i < 3; i++) {
    assert.equal(acl.canPublish(a, 'out/a'), true);
    assert.equal(acl.canPublish(b, 'out/a'), false);
    assert.equal(acl.canPublish(b, 'out/b'), true);
  }
  // more topics than the per-client cache holds: still right after it is cleared
  for (let i = 0; i < 2000; i++) assert.equal(acl.canPublish(a, `x/${i}`), false);
  assert.equal(acl.canPublish(a, 'out/a'), true);
});

test('ACL: $ topics need a rule that names them [MQTT-4.7.2-1]', () => {
  const acl = new Acl(parseAclFile('topic read #\ntopic read $SYS/broker/#\n', 'acl'));
  const anon = client(undefined);
  assert.equal(acl.canSubscribe(anon, 'a/b'), true);
  assert.equal(acl.canSubscribe(anon, '$SYS/broker/uptime'), true);
  assert.equal(acl.canSubscribe(anon, '$SYS/other'), false);
});

test('ACL: malformed lines name the file and the line', () => {
  const cases: [string, number, RegExp][] = [
    ['topic read a\nuser\n', 2, /'user' needs a username/],
    ['\n\ntopics read a\n', 3, /unknown keyword 'topics'/],
    ['topic read\n', 1, /'topic' needs a topic filter/],
    ['# x\npattern write a/#/b\n', 2, /not a valid topic filter/],
    ['user a\ntopic read a+/b\n', 2, /not a valid topic filter/],
  ];
  for (const [text, line, why] of cases) {
    assert.throws(
      () => parseAclFile(text, '/etc/mqiot/acl'),
      (err: unknown) =>
        err instanceof AuthFileError &&
        err.line === line &&
        err.message.startsWith(`/etc/mqiot/acl:${line}: `) &&
        why.test(err.message),
      text,
    );
  }
  assert.throws(() => Acl.load('/nonexistent/acl'), /\/nonexistent\/acl: cannot read ACL file/);
});

test('gateway rule: gw-<id> uses only mqiot/gw/<id>/up (publish) and mqiot/gw/<id>/down (subscribe)', () => {
  const g = new GatewayAcl();
  const gw = client('gw-site-a', 'mqiot-gw-site-a');
  assert.equal(g.canPublish(gw, 'mqiot/gw/site-a/up'), true);
  assert.equal(g.canPublish(gw, 'mqiot/gw/site-b/up'), false);
  assert.equal(g.canPublish(gw, 'mqiot/gw/site-a/down'), false);
  assert.equal(g.canPublish(gw, 'mqiot/dev/x/telemetry'), false);
  assert.equal(g.canSubscribe(gw, 'mqiot/gw/site-a/down'), true);
  assert.equal(g.canSubscribe(gw, 'mqiot/gw/site-a/up'), false);
  assert.equal(g.canSubscribe(gw, 'mqiot/gw/+/down'), false);
  assert.equal(g.canSubscribe(gw, '#'), false);
  assert.equal(
    g.canPublish(client('gw-a+b'), 'mqiot/gw/a+b/up'),
    false,
    'an id that is not a topic level gets nothing',
  );
  assert.equal(g.canPublish(client('alice'), 'x'), undefined, 'not a gateway: other rules decide');
  assert.equal(g.canPublish(client(undefined), 'x'), undefined);
});
