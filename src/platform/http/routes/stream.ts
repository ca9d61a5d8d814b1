// Live view for dashboards: server-sent events of decoded telemetry, events and command changes.
import type { FastifyInstance } from 'fastify';
import type { Platform } from '../../platform.ts';
import type { PlatformNotification } from '../../events.ts';

const KEEPALIVE_MS = 15_000;

export function streamRoutes(app: FastifyInstance, platform: Platform): void {
  app.get<{ Querystring: { device?: string; types?: string } }>(
    '/api/stream',
    {
      config: { role: 'viewer' },
      schema: {
        tags: ['events'],
        summary: 'Server-sent events: telemetry, event and command notifications as they happen',
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            device: { type: 'string', description: 'only this device’s telemetry' },
            types: { type: 'string', description: 'comma-separated: telemetry,event,command (default all)' },
          },
        },
        produces: ['text/event-stream'],
      },
    },
    (req, reply) => {
      const types = new Set((req.query.types ?? 'telemetry,event,command').split(','));
      const device = req.query.device;
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache',
        connection: 'keep-alive',
      });
      res.write(': connected\n\n');
      const send = (n: PlatformNotification) => {
        if (!types.has(n.type)) return;
        if (device && !(n.type === 'telemetry' && n.message.dev === device)) return;
        const data = n.type === 'telemetry' ? n.message : n.type === 'event' ? n.event : n.record;
        res.write(`event: ${n.type}\ndata: ${JSON.stringify(data)}\n\n`);
      };
      // remote: what every instance sharing the load processed, not only this one
      const unsubscribe = platform.subscribe(send, { remote: true });
      const keepalive = setInterval(() => res.write(': keepalive\n\n'), KEEPALIVE_MS);
      req.raw.once('close', () => {
        clearInterval(keepalive);
        unsubscribe();
      });
    },
  );
}
