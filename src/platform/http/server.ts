// The HTTP API: Fastify with a JSON Schema on every route; the OpenAPI document is served at /api/docs.
import swagger from '@fastify/swagger';
import Fastify, { type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { PlatformErrorCode } from '../errors.ts';
import type { Platform } from '../platform.ts';
import { toHttpError } from './errors.ts';
import { commandRoutes } from './routes/commands.ts';
import { contractRoutes } from './routes/contracts.ts';
import { eventRoutes } from './routes/events.ts';
import { gatewayCredentialRoutes } from './routes/gateway-credentials.ts';
import { registryRoutes } from './routes/registry.ts';
import { ruleRoutes } from './routes/rules.ts';
import { settingsRoutes } from './routes/settings.ts';
import { streamRoutes } from './routes/stream.ts';
import { telemetryRoutes } from './routes/telemetry.ts';

export interface ApiOptions {
  logger?: Logger;
  /** Extra routes (e.g. the web dashboard) registered on the same server. */
  plugins?: ((app: FastifyInstance) => Promise<void> | void)[];
}

export async function buildApi(platform: Platform, options: ApiOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({
    // Request lines at info would drown the ingest logs; the API logs warnings and errors only.
    loggerInstance: options.logger?.child({}, { level: 'warn' }),
    ajv: { customOptions: { coerceTypes: true, removeAdditional: false, useDefaults: true } },
    bodyLimit: 2 * 1024 * 1024,
  }) as unknown as FastifyInstance;

  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'mqiot platform API',
        version: '0.1.0',
        description: 'Gateways, devices, telemetry, commands and queries, contracts and events.',
      },
      tags: ['gateways', 'devices', 'telemetry', 'commands', 'contracts', 'events', 'rules'].map((name) => ({
        name,
      })),
    },
  });

  app.setErrorHandler((err, _req, reply) => {
    const { status, body } = toHttpError(err);
    if (status >= 500) options.logger?.error({ err }, 'request failed');
    void reply.code(status).send(body);
  });
  app.setNotFoundHandler((req, reply) => {
    void reply
      .code(404)
      .send({ error: { code: PlatformErrorCode.NotFound, message: `no route ${req.method} ${req.url}` } });
  });

  registryRoutes(app, platform);
  gatewayCredentialRoutes(app, platform);
  telemetryRoutes(app, platform);
  commandRoutes(app, platform);
  contractRoutes(app, platform);
  eventRoutes(app, platform);
  streamRoutes(app, platform);
  settingsRoutes(app, platform);
  ruleRoutes(app, platform);
  app.get('/api/docs', { schema: { hide: true } }, async () => app.swagger());
  for (const plugin of options.plugins ?? []) await plugin(app);
  await app.ready();
  return app;
}
