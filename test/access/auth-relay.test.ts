// The AUTH relay's rules without sockets: who drives, when the follower is answered, when it is given
// up, and the replay after the CONNACK.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AuthRelay } from '../../src/access/auth-relay.ts';

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
