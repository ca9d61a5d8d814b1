// The edge sync endpoints (docs/architecture.md, "A site"): an edge pulls its replica — the sections
// whose version differs from the ones it holds — and reports the rule firings it acted on, so that this
// platform does not act on the same readings again.
import type { FastifyInstance } from 'fastify';
import type { Platform } from '../../platform.ts';
import { buildReplica, MAX_REPLICA_GATEWAYS } from '../../replica/replica-builder.ts';
import { changedSections, parseHave, REPLICA_KINDS } from '../../replica/sections.ts';
import type { ReportedFiring } from '../../rules/rules-engine.ts';
import { PlatformError, PlatformErrorCode } from '../../errors.ts';
import { errorResponses } from '../schemas.ts';

const sectionSchema = {
  type: 'object',
  properties: {
    version: { type: 'string' },
    items: { type: 'array', items: { type: 'object', additionalProperties: true } },
  },
} as const;

const MAX_FIRINGS = 1000;

const firingSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['key', 'rule', 'subject', 'point', 'ts', 'at'],
  properties: {
    key: { type: 'string', minLength: 1, maxLength: 200 },
    rule: { type: 'string', minLength: 1, maxLength: 64 },
    subject: { type: 'string', minLength: 1, maxLength: 128 },
    point: { type: 'string', minLength: 1, maxLength: 200 },
    value: { description: 'the value that fired it (number, string or boolean)' },
    ts: { type: 'integer', description: 'device time of the triggering reading (ms)' },
    at: { type: 'integer', description: 'when the edge acted (ms)' },
    commandId: { type: 'string', maxLength: 200 },
    actions: { type: 'array', items: { type: 'object', additionalProperties: true } },
  },
} as const;

export function edgeRoutes(app: FastifyInstance, platform: Platform): void {
  app.get<{ Querystring: { gateways: string; have?: string } }>(
    '/api/edge/replica',
    {
      config: { role: 'viewer' },
      schema: {
        tags: ['edge'],
        summary: "An edge's replica: the sections (devices, contracts, rules, state) whose version differs",
        description:
          'gateways: the comma-separated ids of the gateways the edge serves. have: the versions the edge ' +
          'holds, `devices:<v>,contracts:<v>,rules:<v>,state:<v>`; a section whose version matches is left ' +
          'out of the answer.',
        querystring: {
          type: 'object',
          required: ['gateways'],
          properties: {
            gateways: { type: 'string', maxLength: 200_000 },
            have: { type: 'string', maxLength: 1000 },
          },
        },
        response: {
          200: {
            type: 'object',
            properties: {
              sections: {
                type: 'object',
                properties: Object.fromEntries(REPLICA_KINDS.map((k) => [k, sectionSchema])),
              },
            },
          },
          ...errorResponses,
        },
      },
    },
    async (req) => {
      const gateways = req.query.gateways.split(',').filter((g) => g.length > 0);
      if (gateways.length > MAX_REPLICA_GATEWAYS)
        throw new PlatformError(
          PlatformErrorCode.InvalidInput,
          `gateways: at most ${MAX_REPLICA_GATEWAYS} gateways per request`,
          { details: { field: 'gateways' } },
        );
      const all = await buildReplica(platform, gateways);
      return { sections: changedSections(all, parseHave(req.query.have)) };
    },
  );

  app.post<{ Body: { edge: string; firings: ReportedFiring[] } }>(
    '/api/edge/firings',
    {
      config: { role: 'operator' },
      schema: {
        tags: ['edge'],
        summary: 'Rule firings an edge acted on: recorded once each, and not acted on again here',
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['edge', 'firings'],
          properties: {
            edge: { type: 'string', minLength: 1, maxLength: 128 },
            firings: { type: 'array', maxItems: MAX_FIRINGS, items: firingSchema },
          },
        },
        response: {
          200: {
            type: 'object',
            properties: { recorded: { type: 'integer', description: 'firings new to this platform' } },
          },
          ...errorResponses,
        },
      },
    },
    async (req) => ({
      recorded: await platform.rules.recordReported(req.body.firings, `edge:${req.body.edge}`),
    }),
  );
}
