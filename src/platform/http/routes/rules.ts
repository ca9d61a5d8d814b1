// Linkage rules: CRUD, enable/disable, and each rule's firings. The JSON Schema below checks the shape
// (and documents it in OpenAPI); the rule's own validation (src/platform/rules/rule.ts) checks the
// rest, and both name the field in the error message.
import type { FastifyInstance } from 'fastify';
import type { Platform } from '../../platform.ts';
import { RULE_OPS } from '../../rules/rule.ts';
import { errorResponses, eventSchema, idParams, pageQuery } from '../schemas.ts';
import { ruleCollectionRoutes } from './rule-collection.ts';

const comparisonProperties = {
  op: { type: 'string', enum: RULE_OPS },
  // No `type` here: the API coerces types, and "5" must not silently become 5 (rule.ts checks it).
  value: { description: 'number for > >= < <=; number, string or boolean for == !=' },
} as const;

const ruleBody = {
  type: 'object',
  required: ['id', 'when', 'then'],
  properties: {
    id: { type: 'string', minLength: 1, maxLength: 64 },
    name: { type: 'string' },
    enabled: { description: 'default true' },
    cooldown: { description: 'seconds: the rule fires at most once per cooldown' },
    when: {
      type: 'object',
      required: ['device', 'op'],
      properties: {
        device: { type: 'string', minLength: 1, description: "a device id, or '*' (every device)" },
        subject: { type: 'string', enum: ['device', 'gateway'], description: 'for offline/online' },
        contract: { type: 'string', description: "with device '*': only devices decoded with this contract" },
        point: { type: 'string', minLength: 1, description: 'point name (not for offline/online)' },
        ...comparisonProperties,
        for: { description: 'seconds the condition must hold continuously' },
        reset: {
          type: 'object',
          required: ['op'],
          properties: comparisonProperties,
          description: 'hysteresis: re-arm only when this holds (default: when the condition ends)',
        },
      },
    },
    then: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        required: ['type'],
        properties: {
          type: { type: 'string', enum: ['command', 'publish', 'event'] },
          device: { type: 'string', description: 'command: target device ({{device}} allowed)' },
          action: { type: 'string', description: "command: an encoder of the device's contract, or 'poll'" },
          params: { type: 'object', additionalProperties: true, description: 'command parameters' },
          topic: { type: 'string', description: 'publish: MQTT topic (not mqiot/...)' },
          payload: {
            description: 'publish: text or JSON with {{value}} {{device}} {{point}} {{rule}} {{ts}}',
          },
          qos: { description: 'publish: 0, 1 or 2' },
          message: { type: 'string', description: 'event: text recorded on the triggering device' },
        },
      },
    },
  },
} as const;

const ruleSchema = {
  type: 'object',
  additionalProperties: true,
  properties: {
    id: { type: 'string' },
    name: { type: 'string' },
    enabled: { type: 'boolean' },
    createdAt: { type: 'integer' },
    updatedAt: { type: 'integer' },
    status: {
      type: 'object',
      additionalProperties: { type: 'string' },
      description: 'per device the rule has seen: idle, pending or fired',
    },
  },
} as const;

export function ruleRoutes(app: FastifyInstance, platform: Platform): void {
  const { rules } = platform;

  ruleCollectionRoutes(app, rules, {
    path: '/api/rules',
    tag: 'rules',
    noun: 'linkage rule',
    schema: ruleSchema,
    body: ruleBody,
    notes: {
      list: 'with their state per device',
      replace: 'its state starts over',
      remove: 'its firings stay in the events',
    },
  });

  app.get<{ Params: { id: string }; Querystring: { offset: number; limit: number } }>(
    '/api/rules/:id/history',
    {
      config: { role: 'viewer' },
      schema: {
        tags: ['rules'],
        summary:
          "A rule's firings, newest first: the value that fired it and each action's outcome (command id)",
        params: idParams,
        querystring: { type: 'object', additionalProperties: false, properties: { ...pageQuery } },
        response: {
          200: { type: 'object', properties: { items: { type: 'array', items: eventSchema } } },
          ...errorResponses,
        },
      },
    },
    async (req) => {
      await rules.get(req.params.id);
      return { items: await rules.history(req.params.id, req.query) };
    },
  );
}
