// mqiot's broker as Broker1 (killed, stopped); the silent case is in failover-mqiot-silent.test.ts.
import { failoverTest } from './failover-case.ts';

failoverTest({ broker1: 'mqiot', broker2: 'mosquitto', fault: 'kill', protocolVersion: 4 });
// mqiot's broker says goodbye with DISCONNECT 0x8B on a graceful stop: noticed before the close.
failoverTest({
  broker1: 'mqiot',
  broker2: 'mqiot',
  fault: 'stop',
  protocolVersion: 5,
  cause: /^server-disconnect:0x8b$/,
});
