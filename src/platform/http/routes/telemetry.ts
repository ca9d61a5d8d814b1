// Telemetry: latest values, raw range, aggregates per bucket, CSV export, stored frames.
import type { FastifyInstance } from 'fastify';
import { NotFoundError } from '../../errors.ts';
import type { Platform } from '../../platform.ts';
import { errorResponses, idParams, pointSchema, timeSchema } from '../schemas.ts';
import { parseDuration, parseTime } from '../time.ts';

const HOUR_MS = 3_600_000;

interface RangeQuerystring {
  point?: string;
  from?: string;
  to?: string;
  limit?: number;
}

const rangeQuerystring = {
  type: 'object',
  additionalProperties: false,
  properties: {
    point: { type: 'string' },
    from: { ...timeSchema, description: 'ms since epoch or ISO 8601; default: 1 h before `to`' },
    to: { ...timeSchema, description: 'ms since epoch or ISO 8601 (exclusive); default: now' },
    limit: { type: 'integer', minimum: 1, maximum: 100000 },
  },
} as const;

export function telemetryRoutes(app: FastifyInstance, platform: Platform): void {
  const { store, clock } = platform;

  async function device(id: string) {
    const d = await store.getDevice(id);
    if (!d) throw new NotFoundError('device', id);
    return d;
  }
  function window(q: RangeQuerystring) {
    const to = parseTime(q.to, 'to', clock.now() + 1);
    return { from: parseTime(q.from, 'from', to - HOUR_MS), to };
  }

  app.get<{ Params: { id: string } }>(
    '/api/devices/:id/latest',
    {
      config: { role: 'viewer' },
      schema: {
        tags: ['telemetry'],
        summary: 'Latest value of every point of a device',
        params: idParams,
        response: {
          200: { type: 'object', properties: { items: { type: 'array', items: pointSchema } } },
          ...errorResponses,
        },
      },
    },
    async (req) => ({ items: await store.latest((await device(req.params.id)).id) }),
  );

  app.get<{ Params: { id: string }; Querystring: RangeQuerystring }>(
    '/api/devices/:id/telemetry',
    {
      config: { role: 'viewer' },
      schema: {
        tags: ['telemetry'],
        summary: 'Raw readings in a time range',
        params: idParams,
        querystring: rangeQuerystring,
        response: {
          200: { type: 'object', properties: { items: { type: 'array', items: pointSchema } } },
          ...errorResponses,
        },
      },
    },
    async (req) => {
      const d = await device(req.params.id);
      return {
        items: await store.range({
          deviceId: d.id,
          point: req.query.point,
          limit: req.query.limit,
          ...window(req.query),
        }),
      };
    },
  );

  app.get<{ Params: { id: string }; Querystring: RangeQuerystring }>(
    '/api/devices/:id/telemetry.csv',
    {
      config: { role: 'viewer' },
      schema: {
        tags: ['telemetry'],
        summary: 'Raw readings in a time range as CSV (device,point,time,value,unit)',
        params: idParams,
        querystring: rangeQuerystring,
        produces: ['text/csv'],
        response: { 200: { type: 'string' }, ...errorResponses },
      },
    },
    async (req, reply) => {
      const d = await device(req.params.id);
      const csv = await store.exportCsv({
        deviceId: d.id,
        point: req.query.point,
        limit: req.query.limit,
        ...window(req.query),
      });
      return reply
        .type('text/csv; charset=utf-8')
        .header('content-disposition', `attachment; filename="${d.id}.csv"`)
        .send(csv);
    },
  );

  app.get<{ Params: { id: string }; Querystring: RangeQuerystring & { bucket: string; point: string } }>(
    '/api/devices/:id/aggregates',
    {
      config: { role: 'viewer' },
      schema: {
        tags: ['telemetry'],
        summary: 'min/max/avg/last/count of one numeric point per time bucket',
        params: idParams,
        querystring: {
          ...rangeQuerystring,
          properties: { ...rangeQuerystring.properties, bucket: { type: 'string', default: '1m' } },
          required: ['point'],
        },
        response: {
          200: {
            type: 'object',
            properties: {
              bucketMs: { type: 'integer' },
              items: {
                type: 'array',
                items: {
                  type: 'object',
                  properties: {
                    start: { type: 'integer' },
                    count: { type: 'integer' },
                    min: { type: 'number' },
                    max: { type: 'number' },
                    avg: { type: 'number' },
                    last: { type: 'number' },
                  },
                },
              },
            },
          },
          ...errorResponses,
        },
      },
    },
    async (req) => {
      const d = await device(req.params.id);
      const bucketMs = parseDuration(req.query.bucket, 'bucket');
      const items = await store.aggregate({
        deviceId: d.id,
        point: req.query.point,
        bucketMs,
        ...window(req.query),
      });
      return { bucketMs, items };
    },
  );

  app.get<{ Params: { id: string }; Querystring: { errors?: boolean; limit?: number } }>(
    '/api/devices/:id/frames',
    {
      config: { role: 'viewer' },
      schema: {
        tags: ['telemetry'],
        summary: 'Raw frames as received, newest first (with the decode error when a frame failed)',
        params: idParams,
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            errors: { type: 'boolean', description: 'only frames that failed to decode' },
            // the same ceiling as the raw telemetry range, so a day of frames can be fetched at once
            limit: { type: 'integer', minimum: 1, maximum: 100000, default: 50 },
          },
        },
        response: {
          200: {
            type: 'object',
            properties: { items: { type: 'array', items: { type: 'object', additionalProperties: true } } },
          },
          ...errorResponses,
        },
      },
    },
    async (req) => {
      const d = await device(req.params.id);
      return {
        items: await store.frames({
          deviceId: d.id,
          errorsOnly: req.query.errors,
          limit: req.query.limit,
        }),
      };
    },
  );
}
