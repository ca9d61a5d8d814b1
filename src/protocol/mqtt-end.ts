// Ending an MQTT.js client without hanging. A graceful `end()` stops reconnecting, then waits until
// every outgoing QoS 1/2 message is acknowledged: on a connection that is down at that moment (or whose
// acknowledgement is lost with it) that never happens, and the promise never settles, with no timer or
// socket left to show for it. And even with nothing in flight it ends on the socket's close, which a
// peer that went silent (a frozen link) never sends. So a client that is not connected is ended at
// once, and a graceful end is given a grace period; then the socket is destroyed and the end finishes
// as if the acknowledgements had come (MQTT.js's own `outgoingEmpty` signal). What was in flight is
// left to the session or to the sender's own resend.
import type { MqttClient } from 'mqtt';

export const DEFAULT_END_GRACE_MS = 2000;

export async function endClient(client: MqttClient, graceMs = DEFAULT_END_GRACE_MS): Promise<void> {
  if (!client.connected) return client.endAsync(true);
  const ended = client.endAsync(false);
  const timer = setTimeout(() => {
    client.stream?.destroy();
    client.emit('outgoingEmpty');
  }, graceMs);
  try {
    await ended;
  } finally {
    clearTimeout(timer);
  }
}
