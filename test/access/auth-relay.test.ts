// The AUTH relay's rules without sockets: who drives, when the follower is answered, when it is given
// up, and the replay after the CONNACK.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AuthRelay, Reauthentication } from '../../src/access/auth-relay.ts';

function relay() {
  const log: string[] = [];
  const text = (d: Buffer | undefined) => d?.toString() ?? '-';
  const r = new AuthRelay('m', {
    toClient: (d) => log.push(`client<-${text(d)}`),
    toBroker: (u, d) => log.push(`b${u + 1}<-${text(d)}`),
    cannotAnswer: (u, why) => log.push(`give up b${u + 1}: ${why}`),
  });
  return { r, log, b: (s: string) => Buffer.from(s) };
}

test('auth relay: the first broker to challenge drives; the follower asking the same waits for the answer', () => {
  const { r, log, b } = relay();
  r.challenge(1, 0, b('c0')); // Broker2 first: it drives
  r.challenge(0, 0, b('c0')); // Broker1 asks the same: held until the client answers
  assert.equal(r.driver, 1);
  assert.deepEqual(log, ['client<-c0']);
  assert.equal(r.answer(b('a0')), true);
  assert.deepEqual(log, ['client<-c0', 'b2<-a0', 'b1<-a0']);
  assert.equal(r.answer(b('again')), false, 'no challenge waits for an answer');
});

test('auth relay: a follower ahead of the driver is answered once the driver asked the same', () => {
  const { r, log, b } = relay();
  r.challenge(0, 0, b('c0'));
  r.answer(b('a0'));
  r.challenge(1, 0, b('c0')); // late follower, step 0 already answered
  r.challenge(1, 1, b('c1')); // and ahead of the driver at step 1
  r.challenge(0, 1, b('c1'));
  r.answer(b('a1'));
  assert.deepEqual(log, ['client<-c0', 'b1<-a0', 'b2<-a0', 'client<-c1', 'b1<-a1', 'b2<-a1']);
});

test('auth relay: a different challenge, or more steps than the driver asked, gives the follower up', () => {
  const differs = relay();
  differs.r.challenge(0, 0, differs.b('c0'));
  differs.r.challenge(1, 0, differs.b('nonce'));
  assert.deepEqual(differs.log, ['client<-c0', 'give up b2: a different challenge']);

  const more = relay();
  more.r.challenge(0, 0, more.b('c0'));
  more.r.answer(more.b('a0'));
  more.r.challenge(1, 0, more.b('c0'));
  more.r.challenge(1, 1, more.b('c1'));
  more.r.concluded(0); // the driver accepted after one step: nobody will ask c1 of the client
  assert.deepEqual(more.log, [
    'client<-c0',
    'b1<-a0',
    'b2<-a0',
    'give up b2: more steps than the client went through',
  ]);
});

test('auth relay: after the CONNACK a reconnecting link is answered from the recorded steps', () => {
  const { r, log, b } = relay();
  r.challenge(0, 0, b('c0'));
  r.answer(b('a0'));
  r.concluded(0);
  r.finish();
  log.length = 0;
  r.challenge(0, 0, b('c0')); // Broker1 reconnects and asks again
  r.challenge(1, 0, b('other'));
  assert.deepEqual(log, ['b1<-a0', 'give up b2: a different challenge']);
});

function reauth(asked: (0 | 1)[] = [0, 1]) {
  const log: string[] = [];
  const text = (d: Buffer | undefined) => d?.toString() ?? '-';
  const r = new Reauthentication('m', asked, {
    toClient: (d) => log.push(`client<-${text(d)}`),
    toBroker: (u, d) => log.push(`b${u + 1}<-${text(d)}`),
    cannotAnswer: (u, why) => log.push(`give up b${u + 1}: ${why}`),
    succeeded: (d) => log.push(`client<-success ${text(d)}`),
    failed: (code) => log.push(`client<-disconnect 0x${code.toString(16)}`),
  });
  return { r, log, b: (s: string) => Buffer.from(s) };
}

test('re-authentication: relayed like the first conversation; the driver’s success is the client’s', () => {
  const { r, log, b } = reauth();
  r.challenge(0, b('c0'));
  r.challenge(1, b('c0'));
  assert.equal(r.answer(b('a0')), true);
  r.success(1, b('ok-2')); // the follower's word is not the client's
  assert.equal(r.done, false);
  r.success(0, b('ok-1'));
  assert.equal(r.done, true);
  assert.deepEqual(log, ['client<-c0', 'b1<-a0', 'b2<-a0', 'client<-success ok-1']);
  assert.equal(r.answer(b('late')), false, 'nothing waits for an answer any more');
});

test('re-authentication: a broker accepting at once drives; the driver’s refusal ends the client, a follower’s gives it up', () => {
  const once = reauth();
  once.r.success(1, undefined);
  assert.deepEqual(once.log, ['client<-success -']);
  once.r.challenge(0, once.b('c0')); // a question the client was never asked
  assert.deepEqual(once.log.slice(1), ['give up b1: more steps than the client went through']);

  const refused = reauth();
  refused.r.challenge(0, refused.b('c0'));
  refused.r.answer(refused.b('wrong'));
  refused.r.failure(0, 0x87);
  assert.deepEqual(refused.log, ['client<-c0', 'b1<-wrong', 'client<-disconnect 0x87']);

  const follower = reauth();
  follower.r.challenge(0, follower.b('c0'));
  follower.r.failure(1, 0x87);
  assert.equal(follower.r.done, false);
  assert.deepEqual(follower.log, ['client<-c0', 'give up b2: re-authentication refused (0x87)']);

  const notAsked = reauth([0]);
  notAsked.r.challenge(1, notAsked.b('c0'));
  assert.deepEqual(notAsked.log, ['give up b2: AUTH out of turn']);
});
