// Moved to test/support (live.ts, broker.ts, mqtt.ts, wait.ts). This file only re-exports the old
// names for tests written against it; import from test/support instead.
export { startEdge, startEdgeAndCloud, type EdgeAndCloud } from '../support/live.ts';
export { TcpBroker } from '../support/broker.ts';
export { connectGateway } from '../support/mqtt.ts';
export { waitFor as until } from '../support/wait.ts';
