// Gateway registration with platform-issued credentials (docs/threat-model.md#gateways-and-mqtt):
// POST /api/gateways creates the gateway and its credentials (the secret is in this answer only),
// POST /api/gateways/{id}/credentials rotates them, DELETE revokes them and cuts the gateway off.
// Uplinks refused or dropped are counted on GET /api/metrics.
import type { FastifyInstance } from 'fastify';
import { NotFoundError, PlatformError, PlatformErrorCode } from '../../errors.ts';
import { checkGatewayId } from '../../gateways/credentials.ts';
import type { Platform } from '../../platform.ts';
import { Lifecycle, type AssetPatch } from '../../store/types.ts';
import type {} from '../route-roles.ts';
import { assetPatchSchema, errorResponses, idParams } from '../schemas.ts';

const issuedSchema = {
  type: 'object',
  description: 'The credentials; `password` is shown this once and stored only as a hash.',
  properties: {
    id: { type: 'string' },
    username: { type: 'string', description: '`gw-<id>`: the MQTT username' },
    password: { type: 'string', description: 'random secret (192 bits), base64url' },
  },
  required: ['id', 'username', 'password'],
} as const;

const createBodySchema = {
  type: 'object',
  additionalProperties: false,
  required: ['id'],
  properties: {
    id: { type: 'string', minLength: 1, maxLength: 128 },
    ...assetPatchSchema.properties,
  },
} as const;

const OPERATOR = { role: 'operator' } as const;

export function gatewayCredentialRoutes(app: FastifyInstance, platform: Platform): void {
  const { store, clock, credentials } = platform;

  app.post<{ Body: { id: string } & AssetPatch }>(
    '/api/gateways',
    {
      config: OPERATOR,
      schema: {
        tags: ['gateways'],
        summary: 'Register a gateway and issue its MQTT credentials (409 if it already has credentials)',
        body: createBodySchema,
        response: { 201: issuedSchema, ...errorResponses },
      },
    },
    async (req, reply) => {
      const { id, ...asset } = req.body;
      const problem = checkGatewayId(id);
      if (problem) throw new PlatformError(PlatformErrorCode.InvalidInput, problem);
      const now = clock.now();
      const existing = await store.getGatewayCredential(id);
      if (existing) {
        throw new PlatformError(
          PlatformErrorCode.Conflict,
          `gateway '${id}' already has credentials: rotate them with POST /api/gateways/${id}/credentials`,
        );
      }
      const issued = await credentials.create(id);
      await store.ensureGateway(id, now);
      // registering a gateway is the operator's approval: a pending one becomes active
      const before = await store.getGateway(id);
      const patch: AssetPatch = { ...asset };
      if (patch.lifecycle === undefined && before?.lifecycle === Lifecycle.Pending)
        patch.lifecycle = Lifecycle.Active;
      const gateway = Object.keys(patch).length > 0 ? await store.updateGatewayAsset(id, patch, now) : before;
      if (gateway) platform.gatewayUpdated(gateway);
      await platform.recordEvent('credentials-issued', 'gateway', id, now, { username: issued.username });
      return reply.code(201).send(issued);
    },
  );

  app.post<{ Params: { id: string } }>(
    '/api/gateways/:id/credentials',
    {
      config: OPERATOR,
      schema: {
        tags: ['gateways'],
        summary:
          'Rotate a gateway’s credentials: a new secret; the old one stops working and its connections are cut',
        params: idParams,
        response: { 200: issuedSchema, ...errorResponses },
      },
    },
    async (req) => {
      const { id } = req.params;
      if (!(await store.getGateway(id))) throw new NotFoundError('gateway', id);
      const issued = await credentials.rotate(id);
      await platform.recordEvent('credentials-rotated', 'gateway', id, clock.now(), {
        username: issued.username,
      });
      return issued;
    },
  );

  app.delete<{ Params: { id: string } }>(
    '/api/gateways/:id/credentials',
    {
      config: OPERATOR,
      schema: {
        tags: ['gateways'],
        summary: 'Revoke a gateway’s credentials and disconnect it at once',
        params: idParams,
        response: {
          200: {
            type: 'object',
            properties: {
              id: { type: 'string' },
              revoked: { type: 'boolean', description: 'false: it had no credentials' },
              disconnected: { type: 'integer', description: 'connections cut' },
            },
          },
          ...errorResponses,
        },
      },
    },
    async (req) => {
      const { id } = req.params;
      if (!(await store.getGateway(id))) throw new NotFoundError('gateway', id);
      const result = await credentials.revoke(id);
      await platform.recordEvent('credentials-revoked', 'gateway', id, clock.now(), { ...result });
      return { id, ...result };
    },
  );

  app.get(
    '/api/metrics',
    {
      config: OPERATOR,
      schema: {
        tags: ['events'],
        summary:
          'Prometheus text: the platform metrics (ingest, refused uplinks by reason, commands, online)',
        produces: ['text/plain'],
      },
    },
    async (_req, reply) => reply.type('text/plain; version=0.0.4').send(await platform.metrics.render()),
  );
}
