// The simulated site of `mqiot up --demo`: device simulators of several protocols and one gateway
// polling them through the broker — a newcomer sees devices register and data flow within seconds.
import { join } from 'node:path';
import type { Logger } from 'pino';
import { listBuiltinContracts } from '../contracts/index.ts';
import { Gateway, parseGatewayConfig } from '../gateway/index.ts';
import { startPushSensor, type PushSensor } from '../sim/push-sensor.ts';
import { startSimulators } from '../sim/index.ts';

export const DEMO_GATEWAY_ID = 'demo-site';
const MODBUS_UNITS = [1, 2, 3, 4];
const DLT645_ADDRESSES = ['000000000161', '000000000162', '000000000163', '000000000164', '000000000165'];
/** Sensors that push their frames to the gateway; each joins when a contract for its frames is built in. */
const PUSH_SENSORS = [
  {
    id: 'sensor-21',
    sensorId: 21,
    contract: 'cayenne-lpp',
    format: 'cayenne-lpp',
    transport: 'udp',
    model: 'sim environment sensor (Cayenne LPP over UDP)',
  },
  {
    id: 'sensor-22',
    sensorId: 22,
    contract: 'cayenne-lpp',
    format: 'cayenne-lpp',
    transport: 'udp',
    model: 'sim environment sensor (Cayenne LPP over UDP)',
  },
  {
    id: 'th10-31',
    sensorId: 31,
    contract: 'acme-th10',
    format: 'fixed',
    transport: 'tcp',
    model: 'sim ACME TH-10 (vendor frame over TCP)',
  },
] as const;

export interface DemoOptions {
  mqttUrl: string;
  dataDir: string;
  logger: Logger;
  /** Credentials for the demo's gateway (`mqiot up --demo` issues them itself); none: anonymous. */
  issueGatewayCredentials?(gatewayId: string): Promise<{ username: string; password: string }>;
  /** Faster polling for tests. */
  pollMs?: number;
}

export async function startDemoSite(
  options: DemoOptions,
): Promise<{ gateway: Gateway; close(): Promise<void> }> {
  const pollMs = options.pollMs ?? 2000;
  const sims = await startSimulators({
    modbusTcp: { host: '127.0.0.1', port: 0, units: MODBUS_UNITS },
    dlt645: { transport: 'tcp', host: '127.0.0.1', port: 0, addresses: DLT645_ADDRESSES },
  });
  const builtins = listBuiltinContracts();
  const pushSensors = PUSH_SENSORS.filter((p) => builtins.includes(p.contract));
  const devices: unknown[] = [
    ...MODBUS_UNITS.map((unit) => ({
      id: `power-meter-${unit}`,
      contract: 'modbus-tcp',
      model: 'sim power meter (Modbus TCP)',
      transport: { type: 'tcp', host: '127.0.0.1', port: sims.modbusTcp!.port },
      params: { unit },
      poll: [
        {
          name: 'meter',
          message: 'read-holding-registers',
          params: { start: 0, count: 11 },
          everyMs: pollMs,
        },
      ],
    })),
    ...DLT645_ADDRESSES.map((address, i) => ({
      id: `energy-meter-${i + 1}`,
      contract: 'dlt645-2007',
      model: 'sim energy meter (DL/T 645-2007)',
      transport: { type: 'tcp', host: '127.0.0.1', port: sims.dlt645!.port },
      params: { address },
      poll: [
        { name: 'energy', message: 'read', params: { di: '00010000' }, everyMs: pollMs },
        { name: 'voltage', message: 'read', params: { di: '02010100' }, everyMs: pollMs },
      ],
    })),
    ...pushSensors.map((p) => ({
      id: p.id,
      contract: p.contract,
      model: p.model,
      transport: { type: `${p.transport}-listen`, host: '127.0.0.1', port: 0 },
    })),
  ];
  const login = await options.issueGatewayCredentials?.(DEMO_GATEWAY_ID);
  const config = parseGatewayConfig({
    gateway: { id: DEMO_GATEWAY_ID },
    mqtt: {
      urls: [options.mqttUrl],
      reconnectMs: 500,
      ...(login ? { username: login.username, password: login.password } : {}),
    },
    batching: { windowMs: 500 },
    reports: { intervalMs: 60_000 },
    queue: { path: join(options.dataDir, `gateway-${DEMO_GATEWAY_ID}.db`) },
    devices,
  });
  const gateway = new Gateway(config, { logger: options.logger });
  const push: PushSensor[] = [];
  try {
    await gateway.start();
    for (const p of pushSensors) {
      const port = gateway.listenerPorts.get(p.id);
      if (port === undefined) continue;
      push.push(
        startPushSensor({
          sensorId: p.sensorId,
          format: p.format,
          transport: p.transport,
          host: '127.0.0.1',
          port,
          intervalMs: pollMs,
        }),
      );
    }
  } catch (err) {
    await gateway.stop().catch(() => undefined);
    await sims.close();
    throw err;
  }
  options.logger.info({ gateway: DEMO_GATEWAY_ID, devices: devices.length }, 'demo site started');
  return {
    gateway,
    async close() {
      await Promise.all(push.map((p) => p.close()));
      await gateway.stop();
      await sims.close();
    },
  };
}
