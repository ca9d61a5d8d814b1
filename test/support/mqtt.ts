// MQTT.js clients for tests: connected, as a gateway, and what they receive.
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';

/** MQTT.js client connected (resolves on 'connect', rejects on 'error'). */
export function connectClient(url: string, options: IClientOptions = {}): Promise<MqttClient> {
  return new Promise((resolve, reject) => {
    const client = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: 5000, ...options });
    client.once('connect', () => resolve(client));
    client.once('error', (err) => {
      client.end(true);
      reject(err);
    });
  });
}

/** An MQTT.js client connected as gateway `gw` (client id `mqiot-gw-<gw>`) and subscribed to its down topic. */
export async function connectGateway(
  url: string,
  gw: string,
  options: IClientOptions = {},
): Promise<MqttClient> {
  const client = await mqtt.connectAsync(url, { clientId: `mqiot-gw-${gw}`, reconnectPeriod: 0, ...options });
  await client.subscribeAsync(`mqiot/gw/${gw}/down`, { qos: 1 });
  return client;
}

/** SUBACK codes of one subscribe (MQTT.js rejects the promise when any code is a failure). */
export function subackCodes(
  c: MqttClient,
  filters: string[],
  qos: 0 | 1 | 2,
  opts: object = {},
): Promise<number[]> {
  return new Promise((resolve) => {
    const onPacket = (p: mqtt.Packet): void => {
      if (p.cmd !== 'suback') return;
      c.removeListener('packetreceive', onPacket);
      resolve(p.granted as number[]);
    };
    c.on('packetreceive', onPacket);
    c.subscribe(filters, { qos, ...opts }, () => {});
  });
}

/** Collects messages of a client. */
export function collect(c: MqttClient): { topic: string; payload: string; packet: mqtt.IPublishPacket }[] {
  const out: { topic: string; payload: string; packet: mqtt.IPublishPacket }[] = [];
  c.on('message', (topic, payload, packet) => out.push({ topic, payload: payload.toString(), packet }));
  return out;
}

/**
 * Protocol barrier: a PINGREQ/PINGRESP round trip on each client in turn. Once it returns, the broker
 * has handled every packet these clients sent before, and each client has read every packet the broker
 * wrote to it before answering its PINGREQ. So with a broker that routes as it reads (ours, Mosquitto),
 * a message that was going to reach these clients because of what they (or an acknowledged publisher)
 * did before has arrived; a test can then assert that something did NOT arrive without sleeping.
 */
export async function pingBarrier(...clients: MqttClient[]): Promise<void> {
  for (const c of clients) {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => done(new Error('no PINGRESP within 10 s')), 10_000);
      const onPacket = (p: mqtt.Packet): void => {
        if (p.cmd === 'pingresp') done();
      };
      const onClose = (): void => done(new Error('connection closed before PINGRESP'));
      const done = (err?: Error): void => {
        clearTimeout(timer);
        c.removeListener('packetreceive', onPacket);
        c.removeListener('close', onClose);
        if (err) reject(err);
        else resolve();
      };
      c.on('packetreceive', onPacket);
      c.once('close', onClose);
      c.sendPing();
    });
  }
}
