// The gateway ("WiFi central node"): polls devices, batches raw frames into data groups, executes
// commands and queries, reports, and buffers to disk while offline (docs/protocol.md).
export { Gateway, type GatewayDeps } from './gateway.ts';
export { loadGatewayConfig, parseGatewayConfig, GatewayConfigError, type GatewayConfig } from './config.ts';
export { systemClock, type Clock, type TimerClock } from './clock.ts';
export { resolveContracts } from './contracts.ts';
