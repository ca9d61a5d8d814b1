// JSON Schemas shared by the routes (they also become the OpenAPI document at /api/docs).
export const errorSchema = {
  type: 'object',
  properties: {
    error: {
      type: 'object',
      properties: { code: { type: 'string' }, message: { type: 'string' }, details: {} },
      required: ['code', 'message'],
    },
  },
  required: ['error'],
} as const;

export const errorResponses = {
  400: errorSchema,
  401: errorSchema,
  403: errorSchema,
  404: errorSchema,
  409: errorSchema,
  422: errorSchema,
} as const;

export const idParams = {
  type: 'object',
  properties: { id: { type: 'string', minLength: 1, maxLength: 128 } },
  required: ['id'],
} as const;

export const lifecycleSchema = {
  type: 'string',
  enum: ['active', 'disabled', 'retired', 'pending'],
} as const;

const assetProperties = {
  name: { type: ['string', 'null'] },
  type: { type: ['string', 'null'] },
  model: { type: ['string', 'null'] },
  location: { type: ['string', 'null'] },
  tags: { type: 'array', items: { type: 'string' } },
  installDate: { type: ['string', 'null'] },
  attributes: { type: 'object', additionalProperties: true },
  lifecycle: lifecycleSchema,
} as const;

export const assetPatchSchema = {
  type: 'object',
  additionalProperties: false,
  minProperties: 1,
  properties: {
    ...assetProperties,
    installDate: { type: ['string', 'null'], pattern: '^\\d{4}-\\d{2}-\\d{2}' },
  },
} as const;

export const devicePatchSchema = {
  ...assetPatchSchema,
  properties: {
    ...assetPatchSchema.properties,
    pollMs: { type: ['integer', 'null'], minimum: 1 },
    contractId: { type: ['string', 'null'] },
  },
} as const;

const presence = {
  online: { type: 'boolean' },
  lastSeen: { type: ['integer', 'null'] },
  onlineChangedAt: { type: ['integer', 'null'] },
  createdAt: { type: 'integer' },
} as const;

export const gatewaySchema = {
  type: 'object',
  properties: { id: { type: 'string' }, ...assetProperties, ...presence },
} as const;

export const deviceSchema = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    gatewayId: { type: ['string', 'null'] },
    contractId: { type: ['string', 'null'] },
    pollMs: { type: ['integer', 'null'] },
    ...assetProperties,
    ...presence,
  },
} as const;

export const pointSchema = {
  type: 'object',
  properties: {
    deviceId: { type: 'string' },
    name: { type: 'string' },
    ts: { type: 'integer' },
    value: { type: ['number', 'string', 'boolean'] },
    unit: { type: ['string', 'null'] },
  },
} as const;

export const commandSchema = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    kind: { type: 'string', enum: ['command', 'query'] },
    gatewayId: { type: 'string' },
    deviceId: { type: ['string', 'null'] },
    action: { type: 'string' },
    params: { type: 'object', additionalProperties: true },
    state: { type: 'string', enum: ['pending', 'sent', 'acknowledged', 'executed', 'failed', 'timed-out'] },
    attempts: { type: 'integer' },
    createdAt: { type: 'integer' },
    updatedAt: { type: 'integer' },
    result: {},
    error: { type: ['string', 'null'] },
    requestedBy: { type: ['string', 'null'], description: 'the user who sent it, or rule:<id>' },
    history: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          state: { type: 'string' },
          at: { type: 'integer' },
          attempt: { type: 'integer' },
          detail: {},
        },
      },
    },
  },
} as const;

export const eventSchema = {
  type: 'object',
  properties: {
    id: { type: 'integer' },
    ts: { type: 'integer' },
    kind: { type: 'string' },
    subjectType: { type: 'string' },
    subjectId: { type: 'string' },
    detail: { type: 'object', additionalProperties: true },
  },
} as const;

/** A time as milliseconds since the epoch or an ISO 8601 string. */
export const timeSchema = { type: 'string', minLength: 1, maxLength: 40 } as const;

export const pageQuery = {
  offset: { type: 'integer', minimum: 0, default: 0 },
  limit: { type: 'integer', minimum: 1, maximum: 1000, default: 50 },
} as const;

/** The response of a paged list: one page of `item` and where it sits in the whole. */
export function pageOf<const T extends object>(item: T) {
  return {
    type: 'object',
    properties: {
      items: { type: 'array', items: item },
      total: { type: 'integer' },
      offset: { type: 'integer' },
      limit: { type: 'integer' },
    },
  } as const;
}
