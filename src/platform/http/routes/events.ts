// Events (registrations, online/offline changes, edits, uploads) and health.
import type { FastifyInstance } from 'fastify';
import type { Platform } from '../../platform.ts';
import type { EventRecord } from '../../store/types.ts';
import { errorResponses, eventSchema, pageQuery, timeSchema } from '../schemas.ts';
import { parseTime } from '../time.ts';

export function eventRoutes(app: FastifyInstance, platform: Platform): void {
  app.get<{
    Querystring: {
      subjectType?: EventRecord['subjectType'];
      subject?: string;
      kind?: string;
      from?: string;
      to?: string;
      offset: number;
      limit: number;
    };
  }>(
    '/api/events',
    {
      config: { role: 'viewer' },
      schema: {
        tags: ['events'],
        summary: 'Events, newest first (online/offline changes with their time, registrations, edits)',
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            subjectType: {
              type: 'string',
              enum: ['gateway', 'device', 'command', 'contract', 'rule', 'model'],
            },
            subject: { type: 'string' },
            kind: { type: 'string' },
            from: timeSchema,
            to: timeSchema,
            ...pageQuery,
          },
        },
        response: {
          200: { type: 'object', properties: { items: { type: 'array', items: eventSchema } } },
          ...errorResponses,
        },
      },
    },
    async (req) => {
      const q = req.query;
      return {
        items: await platform.store.listEvents({
          subjectType: q.subjectType,
          subjectId: q.subject,
          kind: q.kind,
          from: q.from === undefined ? undefined : parseTime(q.from, 'from', 0),
          to: q.to === undefined ? undefined : parseTime(q.to, 'to', 0),
          offset: q.offset,
          limit: q.limit,
        }),
      };
    },
  );

  app.get(
    '/api/health',
    {
      config: { role: 'public' },
      schema: {
        tags: ['events'],
        summary: 'Liveness and a few counts',
        response: {
          200: {
            type: 'object',
            properties: {
              ok: { type: 'boolean' },
              store: { type: 'string' },
              gateways: { type: 'integer' },
              devices: { type: 'integer' },
              commandsInFlight: { type: 'integer' },
              uplinkRejected: {
                type: 'object',
                additionalProperties: { type: 'integer' },
                description: 'gateway uplinks refused or dropped, by reason',
              },
            },
          },
        },
      },
    },
    async () => ({
      ok: true,
      store: platform.store.kind,
      gateways: (await platform.store.listGateways()).length,
      devices: (await platform.store.listDevices({ limit: 1 })).total,
      commandsInFlight: platform.commands.inFlightCount,
      uplinkRejected: platform.metrics.uplinkRejections(),
    }),
  );

  app.get(
    '/api/ingest',
    {
      config: { role: 'viewer' },
      schema: {
        tags: ['events'],
        summary:
          'Readings stored by this instance since it started, and when: two reads give the ingest rate (no store access)',
        response: {
          200: {
            type: 'object',
            properties: {
              readingsTotal: { type: 'integer' },
              at: { type: 'integer', description: 'server time, ms since the Unix epoch' },
            },
          },
        },
      },
    },
    async () => ({ readingsTotal: platform.metrics.readings, at: platform.clock.now() }),
  );
}
