// Commands and status queries: send, status, history.
import type { FastifyInstance } from 'fastify';
import { NotFoundError } from '../../errors.ts';
import type { Platform } from '../../platform.ts';
import type { CommandKind, CommandState } from '../../store/types.ts';
import { commandSchema, errorResponses, idParams, pageQuery } from '../schemas.ts';

export function commandRoutes(app: FastifyInstance, platform: Platform): void {
  const { store } = platform;

  app.post<{ Params: { id: string }; Body: { action: string; params?: Record<string, unknown> } }>(
    '/api/devices/:id/commands',
    {
      config: { role: 'operator' },
      schema: {
        tags: ['commands'],
        summary: 'Send a control command to a device through its gateway (resent on timeout, failed after 3)',
        params: idParams,
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['action'],
          properties: {
            action: {
              type: 'string',
              minLength: 1,
              description: "an encoder of the device's contract, or 'poll'",
            },
            params: { type: 'object', additionalProperties: true },
          },
        },
        response: { 202: commandSchema, ...errorResponses },
      },
    },
    async (req, reply) => {
      const record = await platform.commandService.sendCommand({
        deviceId: req.params.id,
        action: req.body.action,
        params: req.body.params,
        requestedBy: req.principal?.username ?? null,
      });
      return reply.code(202).send(record);
    },
  );

  app.post<{ Params: { id: string }; Body: { devices?: string[] } }>(
    '/api/gateways/:id/queries',
    {
      config: { role: 'operator' },
      schema: {
        tags: ['commands'],
        summary:
          'Send a status query to a gateway (answer timer 30 s unless configured, failed after 3 timeouts)',
        params: idParams,
        body: {
          type: 'object',
          additionalProperties: false,
          properties: { devices: { type: 'array', items: { type: 'string' }, minItems: 1 } },
        },
        response: { 202: commandSchema, ...errorResponses },
      },
    },
    async (req, reply) => {
      const record = await platform.commandService.sendQuery({
        gatewayId: req.params.id,
        devices: req.body?.devices,
        requestedBy: req.principal?.username ?? null,
      });
      return reply.code(202).send(record);
    },
  );

  app.get<{ Params: { id: string } }>(
    '/api/commands/:id',
    {
      config: { role: 'viewer' },
      schema: {
        tags: ['commands'],
        summary: 'State and history of one command or query',
        params: idParams,
        response: { 200: commandSchema, ...errorResponses },
      },
    },
    async (req) => {
      const record = await store.getCommand(req.params.id);
      if (!record) throw new NotFoundError('command', req.params.id);
      return record;
    },
  );

  app.get<{
    Querystring: {
      gateway?: string;
      device?: string;
      kind?: CommandKind;
      state?: CommandState;
      offset: number;
      limit: number;
    };
  }>(
    '/api/commands',
    {
      config: { role: 'viewer' },
      schema: {
        tags: ['commands'],
        summary: 'Command and query history, newest first',
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            gateway: { type: 'string' },
            device: { type: 'string' },
            kind: { type: 'string', enum: ['command', 'query'] },
            state: {
              type: 'string',
              enum: ['pending', 'sent', 'acknowledged', 'executed', 'failed', 'timed-out'],
            },
            ...pageQuery,
          },
        },
        response: {
          200: { type: 'object', properties: { items: { type: 'array', items: commandSchema } } },
          ...errorResponses,
        },
      },
    },
    async (req) => {
      const q = req.query;
      return {
        items: await store.listCommands({
          gatewayId: q.gateway,
          deviceId: q.device,
          kind: q.kind,
          state: q.state,
          offset: q.offset,
          limit: q.limit,
        }),
      };
    },
  );
}
