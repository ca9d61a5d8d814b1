// A gateway in its own process for bench/ingest: it reads the data groups from a file (each a 4-byte
// big-endian length, then the bytes), connects, tells the parent it is ready, publishes every group at
// QoS 1 when told to go, and exits once all are acknowledged. In its own process, its CPU is not counted
// against the broker and platform it measures, as with a real gateway.
//
// It writes the PUBLISH packets itself (encoded with mqtt-packet before the clock starts) and keeps at
// most WINDOW of them unacknowledged, as a gateway written in C would: on a two-core machine a client
// library's per-message work took CPU from the process being measured.
import net from 'node:net';
import { readFileSync } from 'node:fs';
import mqttPacket from 'mqtt-packet';

const [url, file, topic, window = '1000'] = process.argv.slice(2);
if (!url || !file || !topic || !process.send)
  throw new Error('usage: fork with <url> <file> <topic> [window]');
const WINDOW = Number(window);

const bytes = readFileSync(file);
const packets: Buffer[] = [];
for (let at = 0, id = 0; at < bytes.length;) {
  const length = bytes.readUInt32BE(at);
  const payload = bytes.subarray(at + 4, at + 4 + length);
  // ids 1…65535, reused only long after their PUBACK (the window is far smaller)
  id = (id % 65535) + 1;
  packets.push(
    mqttPacket.generate({ cmd: 'publish', topic, payload, qos: 1, messageId: id, dup: false, retain: false }),
  );
  at += 4 + length;
}

const { hostname, port } = new URL(url);
const socket = net.connect(Number(port), hostname);
socket.setNoDelay(true);
const parser = mqttPacket.parser({ protocolVersion: 4 });
let connected: () => void;
const connack = new Promise<void>((resolve) => (connected = resolve));
let sent = 0;
let acked = 0;

let draining = false;
/** Writes packets while the window has room; the socket's own buffer decides when to wait. */
function pump(): void {
  if (draining) return;
  while (sent < packets.length && sent - acked < WINDOW) {
    if (!socket.write(packets[sent++]!)) {
      draining = true;
      socket.once('drain', () => {
        draining = false;
        pump();
      });
      return;
    }
  }
}

parser.on('packet', (packet) => {
  if (packet.cmd === 'connack') return connected();
  if (packet.cmd !== 'puback') return;
  acked++;
  if (acked === packets.length) {
    socket.end(mqttPacket.generate({ cmd: 'disconnect' }));
    socket.once('close', () => process.exit(0));
    return;
  }
  pump();
});
parser.on('error', (err) => {
  throw err;
});
socket.on('data', (chunk: Buffer) => parser.parse(chunk));
socket.write(
  mqttPacket.generate({
    cmd: 'connect',
    protocolId: 'MQTT',
    protocolVersion: 4,
    clientId: 'bench-gw',
    clean: true,
    keepalive: 60,
  }),
);
await connack;
process.once('message', pump);
process.send('ready');
