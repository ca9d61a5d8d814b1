// Aedes (npm) on a plain TCP server, run as its own process by run.ts: `aedes-server.ts PORT`.
import { createServer } from 'node:net';
import { Aedes } from 'aedes';

const port = Number(process.argv[2]);
const aedes = await Aedes.createBroker();
const server = createServer((socket) => aedes.handle(socket));
server.listen(port, '127.0.0.1', () => process.send?.({ type: 'listening' }));
process.on('SIGTERM', () => {
  server.close();
  aedes.close(() => process.exit(0));
});
