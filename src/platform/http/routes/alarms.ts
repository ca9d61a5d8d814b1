// Alarms (list, one, acknowledge, clear, active counts) and alarm rules (CRUD). Viewers read; operators
// acknowledge, clear and edit rules. The rule's own validation (src/platform/alarms/alarm-rule.ts)
// checks the body and names the field in its message.
import type { FastifyInstance } from 'fastify';
import { ALARM_CONDITIONS } from '../../alarms/alarm-rule.ts';
import { SEVERITIES } from '../../alarms/alarm.ts';
import type { Platform } from '../../platform.ts';
import { COMPARE_OPS } from '../../rules/rule.ts';
import { errorResponses, pageQuery } from '../schemas.ts';
import { ruleCollectionRoutes } from './rule-collection.ts';

const alarmIdParams = {
  type: 'object',
  properties: { id: { type: 'integer', minimum: 1 } },
  required: ['id'],
} as const;

const valueSchema = { type: ['number', 'string', 'boolean', 'null'] } as const;

const alarmSchema = {
  type: 'object',
  properties: {
    id: { type: 'integer' },
    originatorType: { type: 'string', enum: ['device', 'gateway'] },
    originatorId: { type: 'string' },
    type: { type: 'string', description: 'one active alarm per (originator, type)' },
    severity: { type: 'string', enum: SEVERITIES },
    ruleId: { type: ['string', 'null'], description: 'the alarm rule that raised it' },
    message: { type: 'string' },
    value: { ...valueSchema, description: 'the observation that raised it' },
    active: { type: 'boolean', description: 'false once cleared' },
    acknowledged: { type: 'boolean' },
    raisedAt: { type: 'integer' },
    updatedAt: { type: 'integer' },
    ackAt: { type: ['integer', 'null'] },
    ackBy: { type: ['string', 'null'] },
    clearedAt: { type: ['integer', 'null'] },
    clearedBy: { type: ['string', 'null'], description: "a user name, or 'condition'" },
    history: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          at: { type: 'integer' },
          action: { type: 'string', enum: ['raised', 'updated', 'acknowledged', 'cleared'] },
          by: { type: 'string' },
          severity: { type: 'string' },
          value: valueSchema,
        },
      },
    },
  },
} as const;

const comparisonProperties = {
  op: { type: 'string', enum: COMPARE_OPS },
  // No `type` here: the API coerces types, and "5" must not silently become 5 (alarm-rule.ts checks it).
  value: { description: 'number for > >= < <=; number, string or boolean for == !=' },
} as const;

const alarmRuleBody = {
  type: 'object',
  required: ['id', 'condition'],
  properties: {
    id: { type: 'string', minLength: 1, maxLength: 64 },
    name: { type: 'string' },
    enabled: { description: 'default true' },
    type: {
      type: 'string',
      description: 'alarm type (default: the id); one active alarm per (originator, type)',
    },
    severity: { type: 'string', enum: SEVERITIES, description: 'default major' },
    condition: { type: 'string', enum: ALARM_CONDITIONS },
    subject: { type: 'string', enum: ['device', 'gateway'], description: "'gateway' only for offline" },
    device: { type: 'string', minLength: 1, description: "a device (or gateway) id, or '*' (default)" },
    contract: { type: 'string', description: 'only devices decoded with this contract' },
    model: { type: 'string', description: 'only devices of this model' },
    point: { type: 'string', description: 'threshold, rate: the point' },
    ...comparisonProperties,
    per: { description: 'rate: change per this many seconds (default 60)' },
    for: { description: 'seconds the condition must hold (offline: seconds offline)' },
    clear: {
      type: 'object',
      required: ['op'],
      properties: comparisonProperties,
      description: 'threshold, rate: clears when this holds (default: when the condition ends)',
    },
    count: { description: 'decode-errors: failed frames (default 1)' },
    within: { description: 'decode-errors: within this many seconds (default 600)' },
    message: { type: 'string', description: "the alarm's text (default: the name)" },
  },
} as const;

const alarmRuleSchema = {
  type: 'object',
  additionalProperties: true,
  properties: {
    id: { type: 'string' },
    name: { type: 'string' },
    enabled: { type: 'boolean' },
    type: { type: 'string' },
    severity: { type: 'string' },
    condition: { type: 'string' },
    createdAt: { type: 'integer' },
    updatedAt: { type: 'integer' },
    status: {
      type: 'object',
      additionalProperties: { type: 'string' },
      description: 'per device (or gateway) the rule has seen: idle, pending or raised',
    },
  },
} as const;

interface ListQuery {
  status: 'active' | 'cleared' | 'all';
  acknowledged?: boolean;
  severity?: (typeof SEVERITIES)[number];
  originatorType?: 'device' | 'gateway';
  originator?: string;
  type?: string;
  offset: number;
  limit: number;
}

export function alarmRoutes(app: FastifyInstance, platform: Platform): void {
  const { alarms } = platform;
  const who = (req: { principal?: { username: string } }) => req.principal?.username ?? 'unknown';

  app.get<{ Querystring: ListQuery }>(
    '/api/alarms',
    {
      config: { role: 'viewer' },
      schema: {
        tags: ['alarms'],
        summary: 'Alarms, newest first (default: active ones)',
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            status: { type: 'string', enum: ['active', 'cleared', 'all'], default: 'active' },
            acknowledged: { type: 'boolean' },
            severity: { type: 'string', enum: SEVERITIES },
            originatorType: { type: 'string', enum: ['device', 'gateway'] },
            originator: {
              type: 'string',
              minLength: 1,
              maxLength: 128,
              description: 'a device or gateway id',
            },
            type: { type: 'string', minLength: 1, maxLength: 256 },
            ...pageQuery,
          },
        },
        response: {
          200: {
            type: 'object',
            properties: {
              items: { type: 'array', items: alarmSchema },
              total: { type: 'integer' },
              offset: { type: 'integer' },
              limit: { type: 'integer' },
            },
          },
          ...errorResponses,
        },
      },
    },
    async (req) => {
      const q = req.query;
      return alarms.list({
        ...(q.status === 'all' ? {} : { active: q.status === 'active' }),
        acknowledged: q.acknowledged,
        severity: q.severity,
        originatorType: q.originatorType,
        originatorId: q.originator,
        type: q.type,
        offset: q.offset,
        limit: q.limit,
      });
    },
  );

  app.get(
    '/api/alarms/summary',
    {
      config: { role: 'viewer' },
      schema: {
        tags: ['alarms'],
        summary: 'Active alarms by severity, and how many are not acknowledged (the overview badge)',
        response: {
          200: {
            type: 'object',
            properties: {
              active: {
                type: 'object',
                properties: Object.fromEntries(SEVERITIES.map((s) => [s, { type: 'integer' }])),
              },
              activeTotal: { type: 'integer' },
              unacknowledged: { type: 'integer' },
            },
          },
          ...errorResponses,
        },
      },
    },
    async () => alarms.counts(),
  );

  app.get<{ Params: { id: number } }>(
    '/api/alarms/:id',
    {
      config: { role: 'viewer' },
      schema: {
        tags: ['alarms'],
        summary: 'One alarm with its history',
        params: alarmIdParams,
        response: { 200: alarmSchema, ...errorResponses },
      },
    },
    async (req) => alarms.get(req.params.id),
  );

  app.post<{ Params: { id: number } }>(
    '/api/alarms/:id/ack',
    {
      config: { role: 'operator' },
      schema: {
        tags: ['alarms'],
        summary: 'Acknowledge an alarm (active or cleared); again: no change',
        params: alarmIdParams,
        response: { 200: alarmSchema, ...errorResponses },
      },
    },
    async (req) => alarms.acknowledge(req.params.id, who(req)),
  );

  app.post<{ Params: { id: number } }>(
    '/api/alarms/:id/clear',
    {
      config: { role: 'operator' },
      schema: {
        tags: ['alarms'],
        summary: 'Clear an alarm; it is raised again only when its condition ends and comes back',
        params: alarmIdParams,
        response: { 200: alarmSchema, ...errorResponses },
      },
    },
    async (req) => alarms.clear(req.params.id, who(req)),
  );

  ruleCollectionRoutes(
    app,
    {
      list: () => alarms.listRules(),
      create: (body) => alarms.createRule(body),
      get: (id) => alarms.getRule(id),
      replace: (id, body) => alarms.replaceRule(id, body),
      setEnabled: (id, enabled) => alarms.setRuleEnabled(id, enabled),
      remove: (id) => alarms.removeRule(id),
      status: (id) => alarms.ruleStatus(id),
    },
    {
      path: '/api/alarm-rules',
      tag: 'alarms',
      noun: 'alarm rule',
      schema: alarmRuleSchema,
      body: alarmRuleBody,
      notes: {
        list: 'with their state per device or gateway',
        replace: 'its state starts over; its active alarms stay until cleared',
        remove: 'its alarms stay, to be cleared by a user',
      },
    },
  );
}
