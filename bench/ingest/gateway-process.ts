// A gateway in its own process for bench/ingest: it reads the data groups from a file (each a 4-byte
// big-endian length, then the bytes), connects, tells the parent it is ready, publishes every group at
// QoS 1 when told to go, and exits once all are acknowledged. In its own process, its CPU is not counted
// against the broker and platform it measures, as with a real gateway.
import { readFileSync } from 'node:fs';
import mqtt from 'mqtt';

const [url, file, topic] = process.argv.slice(2);
if (!url || !file || !topic || !process.send) throw new Error('usage: fork with <url> <file> <topic>');

const bytes = readFileSync(file);
const groups: Buffer[] = [];
for (let at = 0; at < bytes.length;) {
  const length = bytes.readUInt32BE(at);
  groups.push(bytes.subarray(at + 4, at + 4 + length));
  at += 4 + length;
}
const client = await mqtt.connectAsync(url, { clientId: 'bench-gw', reconnectPeriod: 0 });
process.once('message', async () => {
  await Promise.all(groups.map((g) => client.publishAsync(topic, g, { qos: 1 })));
  await client.endAsync();
  process.exit(0);
});
process.send('ready');
