// The audit trail: every state-changing /api request — who, when, what, on what, and how it ended —
// written before the answer leaves (onSend), so no change is answered without its record.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { Clock } from '../../clock.ts';
import { AuditResult, type AuditInput } from '../../store/auth-types.ts';
import type { PlatformStore } from '../../store/types.ts';
import { isApiPath } from './route-roles.ts';
import { isSafeMethod } from './request-checks.ts';

/** Body fields worth keeping (never a password, token or whole document). */
const KEPT_FIELDS = [
  'action',
  'role',
  'name',
  'enabled',
  'retentionDays',
  'lifecycle',
  'contractId',
  'expiresAt',
];
const MAX_DETAIL_TEXT = 200;

/** Summarises a request into an audit entry. Pure, so that what is recorded can be tested directly. */
export function auditEntry(input: {
  ts: number;
  method: string;
  url: string;
  routeUrl: string | undefined;
  params: unknown;
  body: unknown;
  status: number;
  username: string | null;
  tokenId: string | null;
  address: string | null;
  errorCode?: string;
}): AuditInput {
  const params = (input.params ?? {}) as Record<string, unknown>;
  const body = (typeof input.body === 'object' && input.body !== null ? input.body : {}) as Record<
    string,
    unknown
  >;
  const detail: Record<string, unknown> = {};
  for (const key of KEPT_FIELDS) {
    const v = body[key];
    if (v === undefined) continue;
    detail[key] = typeof v === 'string' ? v.slice(0, MAX_DETAIL_TEXT) : v;
  }
  const fields = Object.keys(body).filter((k) => k !== 'password');
  if (fields.length) detail.fields = fields.slice(0, 30);
  if (input.errorCode) detail.error = input.errorCode;
  const targetValue = params.id ?? params.name ?? (typeof body.id === 'string' ? body.id : undefined);
  const status = input.status;
  return {
    ts: input.ts,
    username: input.username,
    tokenId: input.tokenId,
    address: input.address,
    method: input.method,
    path: input.url.slice(0, 500),
    action: `${input.method} ${input.routeUrl ?? input.url.split('?')[0]}`.slice(0, 200),
    target: targetValue === undefined ? null : String(targetValue).slice(0, 200),
    status,
    result:
      status < 400
        ? AuditResult.Ok
        : status === 401 || status === 403
          ? AuditResult.Denied
          : AuditResult.Failed,
    detail: Object.keys(detail).length ? detail : null,
  };
}

function errorCodeOf(payload: unknown): string | undefined {
  if (typeof payload !== 'string' || payload.length > 10_000) return undefined;
  try {
    return (JSON.parse(payload) as { error?: { code?: string } }).error?.code;
  } catch {
    return undefined;
  }
}

export function installAudit(
  app: FastifyInstance,
  store: PlatformStore,
  clock: Clock,
  logger?: Logger,
): void {
  app.addHook('onSend', async (req: FastifyRequest, reply: FastifyReply, payload: unknown) => {
    if (isSafeMethod(req.method) || !isApiPath(req.url.split('?')[0]!)) return payload;
    const isLogin = req.routeOptions.url === '/api/auth/login';
    // A request nobody could be named for (no or a bad token) is not recorded: anyone could fill the
    // trail that way. Login attempts are, with the name tried, except those refused by the rate limit.
    if (!req.principal && !(isLogin && reply.statusCode !== 429)) return payload;
    const body = req.body as { username?: unknown } | undefined;
    const username =
      req.principal?.username ?? (typeof body?.username === 'string' ? body.username.slice(0, 64) : null);
    const entry = auditEntry({
      ts: clock.now(),
      method: req.method,
      url: req.url,
      routeUrl: req.routeOptions.url,
      params: req.params,
      body: isLogin ? {} : req.body,
      status: reply.statusCode,
      username,
      tokenId: req.principal?.kind === 'api' ? req.principal.tokenId : null,
      address: req.ip ?? null,
      errorCode: reply.statusCode >= 400 ? errorCodeOf(payload) : undefined,
    });
    try {
      await store.addAudit(entry);
    } catch (err) {
      logger?.error({ err, action: entry.action }, 'audit entry not stored');
    }
    return payload;
  });
}
