// Attaches the platform to the broker in process (a local client, not loopback TCP): it
// subscribes to every gateway's uplink and publishes downlinks and decoded telemetry through the same
// routing as network clients. The uplink handler returns the platform's "stored" promise, so the broker
// acknowledges a gateway's QoS 1/2 uplink only once it is stored (docs/architecture.md).
import { ALL_GATEWAYS_UP_FILTER } from '../protocol/gateway-topics.ts';
import type { PublisherInfo } from '../platform/gateways/provenance.ts';
import type { Platform } from '../platform/platform.ts';

/** The publisher's identity as the broker hands it to local subscribers. */
interface BrokerPublisher {
  clientId: string;
  username: string | undefined;
  transport: string;
}

/** The part of the broker the platform needs (src/broker Broker satisfies it). */
export interface LocalBroker {
  createLocalClient(clientId: string): {
    subscribe(
      filter: string,
      options: { qos: 0 | 1 | 2 },
      // a returned promise holds the gateway's PUBACK/PUBREC until the uplink is stored (docs/broker.md)
      onMessage: (msg: { topic: string; payload: Buffer; publisher?: BrokerPublisher }) => unknown,
    ): void;
    publish(
      topic: string,
      payload: Buffer,
      options?: { qos?: 0 | 1 | 2; properties?: { messageExpiryInterval?: number } },
    ): void;
    close(): void;
  };
  /** Whether any subscription matches `topic` now. */
  hasSubscribers(topic: string): boolean;
}

export const PLATFORM_CLIENT_ID = 'mqiot-platform';

export function attachToBroker(platform: Platform, broker: LocalBroker): { detach(): void } {
  const client = broker.createLocalClient(PLATFORM_CLIENT_ID);
  platform.attach({
    publish: (topic, payload, { qos, expirySeconds }) =>
      client.publish(topic, payload, {
        qos,
        ...(expirySeconds ? { properties: { messageExpiryInterval: expirySeconds } } : {}),
      }),
    subscribed: (topic) => broker.hasSubscribers(topic),
  });
  // in process the broker says who published: the platform checks that it is the gateway itself
  client.subscribe(ALL_GATEWAYS_UP_FILTER, { qos: 1 }, (msg) =>
    platform.handleUplink(msg.topic, msg.payload, publisherInfo(msg.publisher)),
  );
  return { detach: () => client.close() };
}

/** null: the broker did not say (e.g. a will restored from its store after a restart). */
function publisherInfo(p: BrokerPublisher | undefined): PublisherInfo {
  if (p === undefined) return null;
  return { clientId: p.clientId, username: p.username, local: p.transport === 'local' };
}
