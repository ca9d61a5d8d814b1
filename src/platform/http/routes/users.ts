// User accounts (admins only). Passwords are never returned; a new password ends the user's sessions.
import type { FastifyInstance } from 'fastify';
import { MAX_PASSWORD_LENGTH, MAX_USERNAME_LENGTH } from '../../auth/password.ts';
import { ROLES, type Role } from '../../auth/roles.ts';
import type { AuthService } from '../../auth/service.ts';
import { errorResponses } from '../schemas.ts';
import { userSchema } from './auth.ts';

const nameParams = {
  type: 'object',
  properties: { name: { type: 'string', minLength: 1, maxLength: MAX_USERNAME_LENGTH } },
  required: ['name'],
} as const;
const password = {
  type: 'string',
  maxLength: MAX_PASSWORD_LENGTH,
  description: 'at least 10 characters',
} as const;
const role = { type: 'string', enum: ROLES } as const;

export function userRoutes(app: FastifyInstance, auth: AuthService): void {
  const admin = { role: 'admin' } as const;

  app.get(
    '/api/users',
    {
      config: admin,
      schema: {
        tags: ['users'],
        summary: 'Users and their roles',
        response: {
          200: { type: 'object', properties: { items: { type: 'array', items: userSchema } } },
          ...errorResponses,
        },
      },
    },
    async () => ({ items: await auth.listUsers() }),
  );

  app.post<{ Body: { username: string; password: string; role: Role } }>(
    '/api/users',
    {
      config: admin,
      schema: {
        tags: ['users'],
        summary: 'Create a user',
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['username', 'password', 'role'],
          properties: { username: { type: 'string', maxLength: MAX_USERNAME_LENGTH }, password, role },
        },
        response: { 201: userSchema, ...errorResponses },
      },
    },
    async (req, reply) => reply.code(201).send(await auth.createUser(req.body)),
  );

  app.get<{ Params: { name: string } }>(
    '/api/users/:name',
    {
      config: admin,
      schema: {
        tags: ['users'],
        summary: 'One user',
        params: nameParams,
        response: { 200: userSchema, ...errorResponses },
      },
    },
    async (req) => auth.getUser(req.params.name),
  );

  app.patch<{ Params: { name: string }; Body: { role?: Role; password?: string } }>(
    '/api/users/:name',
    {
      config: admin,
      schema: {
        tags: ['users'],
        summary: "Change a user's role or password (a new password signs the user out everywhere)",
        params: nameParams,
        body: {
          type: 'object',
          additionalProperties: false,
          minProperties: 1,
          properties: { role, password },
        },
        response: { 200: userSchema, ...errorResponses },
      },
    },
    async (req) => auth.updateUser(req.params.name, req.body),
  );

  app.delete<{ Params: { name: string } }>(
    '/api/users/:name',
    {
      config: admin,
      schema: {
        tags: ['users'],
        summary: 'Delete a user and all their tokens (the last admin cannot be deleted)',
        params: nameParams,
        response: { 204: { type: 'null' }, ...errorResponses },
      },
    },
    async (req, reply) => {
      await auth.deleteUser(req.params.name);
      return reply.code(204).send();
    },
  );
}
