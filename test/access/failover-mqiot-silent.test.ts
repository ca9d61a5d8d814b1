// mqiot + mqiot, Broker1 cut off silently (a frozen TCP relay; keep-alive 2 s).
import { failoverTest } from './failover-case.ts';

failoverTest({
  broker1: 'mqiot',
  broker2: 'mqiot',
  fault: 'silent',
  protocolVersion: 5,
  cause: /^keepalive-timeout$/,
});
