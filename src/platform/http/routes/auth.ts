// Signing in and out, and who am I. Login answers with a session token (Bearer) and, when asked with
// `cookie: true` (the dashboard), sets it as an HttpOnly cookie instead of returning it.
import type { FastifyInstance } from 'fastify';
import { MAX_PASSWORD_LENGTH, MAX_USERNAME_LENGTH } from '../../auth/password.ts';
import { ROLES } from '../../auth/roles.ts';
import type { AuthService } from '../../auth/service.ts';
import { UnauthorizedError } from '../../errors.ts';
import { sessionCookie } from '../auth/request-checks.ts';
import { errorResponses, errorSchema } from '../schemas.ts';

export const userSchema = {
  type: 'object',
  properties: {
    username: { type: 'string' },
    role: { type: 'string', enum: ROLES },
    createdAt: { type: 'integer' },
    updatedAt: { type: 'integer' },
  },
} as const;

export function authRoutes(app: FastifyInstance, auth: AuthService): void {
  app.post<{ Body: { username: string; password: string; cookie?: boolean } }>(
    '/api/auth/login',
    {
      config: { role: 'public' },
      schema: {
        tags: ['auth'],
        summary:
          'Sign in: a session token for `Authorization: Bearer` (or, with cookie: true, a session cookie)',
        description:
          'Failed attempts are limited per user name and per address (429 with Retry-After). A wrong ' +
          'password and an unknown user get the same answer.',
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['username', 'password'],
          properties: {
            username: { type: 'string', minLength: 1, maxLength: MAX_USERNAME_LENGTH },
            password: { type: 'string', minLength: 1, maxLength: MAX_PASSWORD_LENGTH },
            cookie: {
              type: 'boolean',
              description: 'set an HttpOnly session cookie and leave the token out',
            },
          },
        },
        response: {
          200: {
            type: 'object',
            properties: {
              token: { type: 'string' },
              expiresAt: { type: 'integer' },
              user: {
                type: 'object',
                properties: { username: { type: 'string' }, role: { type: 'string' } },
              },
            },
          },
          429: errorSchema,
          ...errorResponses,
        },
      },
    },
    async (req, reply) => {
      const { username, password, cookie } = req.body;
      const session = await auth.login(username, password, req.ip);
      const user = { username: session.user.username, role: session.user.role };
      if (cookie) {
        const maxAge = auth.sessionTtlMs / 1000;
        void reply.header('set-cookie', sessionCookie(session.token, maxAge, req.protocol === 'https'));
        return { expiresAt: session.expiresAt, user };
      }
      return { token: session.token, expiresAt: session.expiresAt, user };
    },
  );

  app.post(
    '/api/auth/logout',
    {
      config: { role: 'viewer' },
      schema: {
        tags: ['auth'],
        summary: 'Sign out: the session (or API token) used for this request stops working at once',
        response: { 204: { type: 'null' }, ...errorResponses },
      },
    },
    async (req, reply) => {
      if (!req.principal) throw new UnauthorizedError();
      await auth.logout(req.principal);
      return reply
        .header('set-cookie', sessionCookie('', 0, req.protocol === 'https'))
        .code(204)
        .send();
    },
  );

  app.get(
    '/api/auth/me',
    {
      config: { role: 'viewer' },
      schema: {
        tags: ['auth'],
        summary: 'Who the token belongs to, its role and when it expires',
        response: {
          200: {
            type: 'object',
            properties: {
              username: { type: 'string' },
              role: { type: 'string', enum: ROLES },
              kind: { type: 'string', enum: ['session', 'api'] },
              expiresAt: { type: ['integer', 'null'] },
            },
          },
          ...errorResponses,
        },
      },
    },
    async (req) => {
      if (!req.principal) throw new UnauthorizedError();
      const { username, role, kind, expiresAt } = req.principal;
      return { username, role, kind, expiresAt };
    },
  );
}
