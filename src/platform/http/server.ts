// The HTTP API: Fastify with a JSON Schema on every route; the OpenAPI document is served at /api/docs.
import swagger from '@fastify/swagger';
import Fastify, { type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { AuthService, type AuthOptions } from '../auth/service.ts';
import { PlatformErrorCode, RateLimitedError, UnauthorizedError } from '../errors.ts';
import type { Platform } from '../platform.ts';
import { installAudit } from './auth/audit.ts';
import { installGuard } from './auth/guard.ts';
import { declareRouteRoles, securitySchemes } from './auth/route-roles.ts';
import { toHttpError } from './errors.ts';
import { alarmRoutes } from './routes/alarms.ts';
import { auditRoutes } from './routes/audit.ts';
import { authRoutes } from './routes/auth.ts';
import { commandRoutes } from './routes/commands.ts';
import { contractRoutes } from './routes/contracts.ts';
import { modelRoutes } from './routes/models.ts';
import { edgeRoutes } from './routes/edge.ts';
import { eventRoutes } from './routes/events.ts';
import { gatewayCredentialRoutes } from './routes/gateway-credentials.ts';
import { registryRoutes } from './routes/registry.ts';
import { ruleRoutes } from './routes/rules.ts';
import { settingsRoutes } from './routes/settings.ts';
import { streamRoutes } from './routes/stream.ts';
import { telemetryRoutes } from './routes/telemetry.ts';
import { tokenRoutes } from './routes/tokens.ts';
import { userRoutes } from './routes/users.ts';

export interface ApiOptions {
  logger?: Logger;
  /** Extra routes (e.g. the web dashboard) registered on the same server. */
  plugins?: ((app: FastifyInstance) => Promise<void> | void)[];
  /** Session lifetime and login limits. */
  auth?: AuthOptions;
  /** Extra Host names to answer to (http.allowedHosts); localhost names and IP addresses always are. */
  allowedHosts?: readonly string[];
  /** Behind a reverse proxy: client address, scheme and host from X-Forwarded-* (http.trustProxy). */
  trustProxy?: boolean;
  /** HTTPS on the same listener (PEM certificate chain and key). */
  https?: { cert: Buffer | string; key: Buffer | string };
}

export async function buildApi(platform: Platform, options: ApiOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({
    // Request lines at info would drown the ingest logs; the API logs warnings and errors only.
    loggerInstance: options.logger?.child({}, { level: 'warn' }),
    ajv: { customOptions: { coerceTypes: true, removeAdditional: false, useDefaults: true } },
    bodyLimit: 2 * 1024 * 1024,
    // long ids reach the route's schema (maxLength), which answers 400 in our shape, not the router's bare 414
    routerOptions: { maxParamLength: 1024 },
    trustProxy: options.trustProxy ?? false,
    ...(options.https ? { https: options.https } : {}),
  }) as unknown as FastifyInstance;
  // before any route: every /api route must declare its role (startup fails otherwise)
  declareRouteRoles(app);

  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'mqiot platform API',
        version: '0.1.0',
        description:
          'Gateways, devices, telemetry, commands and queries, contracts, device models, events, rules, alarms; users, tokens and ' +
          'the audit trail. Every operation but login, health and this document needs a bearer token; ' +
          '`x-role` on each operation names the least role that may call it (viewer < operator < admin).',
      },
      components: { securitySchemes },
      tags: [
        { name: 'auth', description: 'signing in and out (public: login)' },
        { name: 'gateways', description: 'gateways and their assets' },
        { name: 'devices', description: 'devices, their assets and latest values' },
        { name: 'telemetry', description: 'readings, aggregates, raw frames' },
        { name: 'commands', description: 'control commands and status queries (operator)' },
        { name: 'contracts', description: 'data parsing contracts' },
        { name: 'models', description: 'device models, the model of each device, gateway catalogs' },
        { name: 'events', description: 'events, the live stream and health' },
        { name: 'rules', description: 'linkage rules' },
        {
          name: 'alarms',
          description: 'alarms (viewer reads; operator acknowledges, clears, edits alarm rules)',
        },
        { name: 'edge', description: 'sync with the edges: replica, firings reported upstream' },
        { name: 'settings', description: 'run-time settings (admin to change)' },
        { name: 'users', description: 'users, API tokens and the audit trail' },
      ],
    },
  });
  const auth = new AuthService(platform.store, platform.clock, options.auth);
  installGuard(app, auth, { allowedHosts: options.allowedHosts ?? [] });
  installAudit(app, platform.store, platform.clock, options.logger);

  app.setErrorHandler((err, _req, reply) => {
    const { status, body } = toHttpError(err);
    if (status >= 500) options.logger?.error({ err }, 'request failed');
    if (err instanceof RateLimitedError) void reply.header('retry-after', Math.ceil(err.retryAfterMs / 1000));
    if (err instanceof UnauthorizedError) void reply.header('www-authenticate', 'Bearer');
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
  modelRoutes(app, platform);
  eventRoutes(app, platform);
  streamRoutes(app, platform);
  settingsRoutes(app, platform);
  ruleRoutes(app, platform);
  alarmRoutes(app, platform);
  edgeRoutes(app, platform);
  authRoutes(app, auth);
  userRoutes(app, auth);
  tokenRoutes(app, auth);
  auditRoutes(app, platform.store);
  app.get('/api/docs', { config: { role: 'public' }, schema: { hide: true } }, async () => app.swagger());
  for (const plugin of options.plugins ?? []) await plugin(app);
  await app.ready();
  return app;
}
