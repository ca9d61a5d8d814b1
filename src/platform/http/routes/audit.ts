// The audit trail (admins only): every state-changing request with who, when, what and the result.
import type { FastifyInstance } from 'fastify';
import type { PlatformStore } from '../../store/types.ts';
import type { AuditResult } from '../../store/auth-types.ts';
import { errorResponses, pageOf, pageQuery, timeSchema } from '../schemas.ts';
import { parseTime } from '../time.ts';

const auditSchema = {
  type: 'object',
  properties: {
    id: { type: 'integer' },
    ts: { type: 'integer' },
    username: { type: ['string', 'null'] },
    tokenId: { type: ['string', 'null'] },
    address: { type: ['string', 'null'] },
    method: { type: 'string' },
    path: { type: 'string' },
    action: { type: 'string', description: 'method and route, e.g. "POST /api/devices/:id/commands"' },
    target: { type: ['string', 'null'] },
    status: { type: 'integer' },
    result: { type: 'string', enum: ['ok', 'denied', 'failed'] },
    detail: { type: ['object', 'null'], additionalProperties: true },
  },
} as const;

export function auditRoutes(app: FastifyInstance, store: PlatformStore): void {
  app.get<{
    Querystring: {
      user?: string;
      action?: string;
      result?: AuditResult;
      target?: string;
      from?: string;
      to?: string;
      offset: number;
      limit: number;
    };
  }>(
    '/api/audit',
    {
      config: { role: 'admin' },
      schema: {
        tags: ['users'],
        summary: 'Audit trail of changes and logins, newest first',
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            user: { type: 'string', maxLength: 64 },
            action: { type: 'string', maxLength: 200 },
            result: { type: 'string', enum: ['ok', 'denied', 'failed'] },
            target: { type: 'string', maxLength: 200 },
            from: timeSchema,
            to: timeSchema,
            ...pageQuery,
          },
        },
        response: {
          200: pageOf(auditSchema),
          ...errorResponses,
        },
      },
    },
    async (req) => {
      const q = req.query;
      return store.listAudit({
        username: q.user,
        action: q.action,
        result: q.result,
        target: q.target,
        from: q.from === undefined ? undefined : parseTime(q.from, 'from', 0),
        to: q.to === undefined ? undefined : parseTime(q.to, 'to', 0),
        offset: q.offset,
        limit: q.limit,
      });
    },
  );
}
