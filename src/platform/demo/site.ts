// The demo site for `mqiot up --demo`: placeholder until the gateway can run (filled in below).
import type { Logger } from 'pino';

export async function startDemoSite(_ctx: {
  mqttUrl: string;
  dataDir: string;
  logger: Logger;
}): Promise<{ close(): Promise<void> }> {
  throw new Error('demo site not available yet');
}
