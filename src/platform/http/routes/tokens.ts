// API tokens for scripts and integrations: shown once at creation, stored as a hash, never above the
// creator's role. Everyone signed in manages their own; admins see and revoke all.
import type { FastifyInstance } from 'fastify';
import { ROLES, type Role } from '../../auth/roles.ts';
import type { AuthService } from '../../auth/service.ts';
import { UnauthorizedError } from '../../errors.ts';
import { errorResponses, idParams, timeSchema } from '../schemas.ts';
import { parseTime } from '../time.ts';

const tokenSchema = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    kind: { type: 'string' },
    name: { type: ['string', 'null'] },
    username: { type: 'string' },
    role: { type: 'string', enum: ROLES },
    createdAt: { type: 'integer' },
    expiresAt: { type: ['integer', 'null'] },
    lastUsedAt: { type: ['integer', 'null'] },
  },
} as const;

export function tokenRoutes(app: FastifyInstance, auth: AuthService): void {
  app.post<{ Body: { name: string; role: Role; expiresAt?: string } }>(
    '/api/tokens',
    {
      config: { role: 'viewer' },
      schema: {
        tags: ['users'],
        summary: 'Create an API token (the token is in this answer only; its role cannot exceed yours)',
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['name', 'role'],
          properties: {
            name: { type: 'string', minLength: 1, maxLength: 100 },
            role: { type: 'string', enum: ROLES },
            expiresAt: { ...timeSchema, description: 'ms since epoch or ISO 8601; none = no expiry' },
          },
        },
        response: {
          201: { type: 'object', properties: { token: { type: 'string' }, ...tokenSchema.properties } },
          ...errorResponses,
        },
      },
    },
    async (req, reply) => {
      if (!req.principal) throw new UnauthorizedError();
      const expiresAt =
        req.body.expiresAt === undefined ? null : parseTime(req.body.expiresAt, 'expiresAt', 0);
      const { token, record } = await auth.createApiToken(req.principal, { ...req.body, expiresAt });
      return reply.code(201).send({ token, ...record });
    },
  );

  app.get(
    '/api/tokens',
    {
      config: { role: 'viewer' },
      schema: {
        tags: ['users'],
        summary: 'API tokens: your own, or every one for an admin (never the secret)',
        response: {
          200: { type: 'object', properties: { items: { type: 'array', items: tokenSchema } } },
          ...errorResponses,
        },
      },
    },
    async (req) => {
      if (!req.principal) throw new UnauthorizedError();
      return { items: await auth.listApiTokens(req.principal) };
    },
  );

  app.delete<{ Params: { id: string } }>(
    '/api/tokens/:id',
    {
      config: { role: 'viewer' },
      schema: {
        tags: ['users'],
        summary: 'Revoke an API token (yours, or any for an admin); it stops working at once',
        params: idParams,
        response: { 204: { type: 'null' }, ...errorResponses },
      },
    },
    async (req, reply) => {
      if (!req.principal) throw new UnauthorizedError();
      await auth.revokeApiToken(req.principal, req.params.id);
      return reply.code(204).send();
    },
  );
}
