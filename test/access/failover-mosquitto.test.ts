// Mosquitto as both brokers.
import { failoverTest } from './failover-case.ts';

failoverTest({ broker1: 'mosquitto', broker2: 'mosquitto', fault: 'kill', protocolVersion: 5 });
// Mosquitto 2.0.11 closes without DISCONNECT on SIGTERM; a loaded machine may see the reset as an error.
failoverTest({
  broker1: 'mosquitto',
  broker2: 'mosquitto',
  fault: 'stop',
  protocolVersion: 5,
  cause: /^(server-disconnect|socket-closed|socket-error)/,
});
failoverTest({
  broker1: 'mosquitto',
  broker2: 'mosquitto',
  fault: 'silent',
  protocolVersion: 4,
  cause: /^keepalive-timeout$/,
});
