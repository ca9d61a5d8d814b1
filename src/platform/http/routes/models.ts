// Device models: list, read, upload (checked, inline tests run), try a frame through a model, the model
// of a device (read, set), a model's named commands, and what a gateway's birth catalog says.
import type { FastifyInstance } from 'fastify';
import { NotFoundError, PlatformError, PlatformErrorCode } from '../../errors.ts';
import type { Platform } from '../../platform.ts';
import { commandSchema, errorResponses, idParams } from '../schemas.ts';

const modelInfo = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    version: { type: 'string' },
    name: { type: ['string', 'null'] },
    manufacturer: { type: ['string', 'null'] },
    builtin: { type: 'boolean' },
    contracts: { type: 'array', items: { type: 'string' } },
    points: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          name: { type: 'string' },
          from: { type: 'array', items: { type: 'string' } },
          unit: { type: ['string', 'null'] },
        },
      },
    },
    commands: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          name: { type: 'string' },
          message: { type: 'string' },
          description: { type: ['string', 'null'] },
        },
      },
    },
    hash: {
      type: 'string',
      description: "'sha256:' and the hex SHA-256 of the document (the birth catalog's hash)",
    },
  },
} as const;

const deviceModelSchema = {
  type: ['object', 'null'],
  properties: {
    deviceId: { type: 'string' },
    modelId: { type: 'string' },
    confidence: {
      type: 'number',
      description: '1 when declared or set; below 1 when identified from frames',
    },
    identifiedBy: { type: 'string', enum: ['declared', 'operator', 'detected'] },
    updatedAt: { type: 'integer' },
  },
} as const;

const sourceBody = {
  type: 'object',
  additionalProperties: false,
  required: ['source'],
  properties: { source: { type: 'string', minLength: 1, maxLength: 1_000_000 } },
} as const;

interface TryBody {
  frame: string;
  contract?: string;
  model?: string;
  source?: string;
  context?: Record<string, unknown>;
}

function parseHex(text: string): Uint8Array {
  const clean = text.replace(/[\s:-]/g, '').replace(/^0x/i, '');
  if (clean.length === 0 || clean.length % 2 !== 0 || !/^[0-9a-f]+$/i.test(clean)) {
    throw new PlatformError(
      PlatformErrorCode.InvalidInput,
      'frame: must be hex bytes, e.g. "01 03 02 08 FD …"',
    );
  }
  return Uint8Array.from(Buffer.from(clean, 'hex'));
}

export function modelRoutes(app: FastifyInstance, platform: Platform): void {
  const { models, deviceModels, store, clock } = platform;

  app.get(
    '/api/models',
    {
      config: { role: 'viewer' },
      schema: {
        tags: ['models'],
        summary: 'Device models (built-in and uploaded, newest version each)',
        response: {
          200: {
            type: 'object',
            properties: {
              items: { type: 'array', items: modelInfo },
              unavailable: { type: 'array', items: { type: 'string' } },
            },
          },
        },
      },
    },
    async () => ({ items: models.list(), unavailable: [...models.unavailable] }),
  );

  app.get<{ Params: { id: string } }>(
    '/api/models/:id',
    {
      config: { role: 'viewer' },
      schema: {
        tags: ['models'],
        summary: 'One device model with its source document',
        params: idParams,
        response: {
          200: { type: 'object', properties: { ...modelInfo.properties, source: { type: 'string' } } },
          ...errorResponses,
        },
      },
    },
    async (req) => {
      const found = models.info(req.params.id);
      if (!found) throw new NotFoundError('model', req.params.id);
      return found;
    },
  );

  app.post<{ Body: { source: string } }>(
    '/api/models',
    {
      config: { role: 'operator' },
      schema: {
        tags: ['models'],
        summary:
          'Upload a device model (YAML as text/yaml, or JSON { source }); checked and its inline tests run first',
        body: sourceBody,
        response: {
          201: {
            type: 'object',
            properties: { model: modelInfo, tests: { type: 'object', additionalProperties: true } },
          },
          ...errorResponses,
        },
      },
    },
    async (req, reply) => {
      const result = await models.upload(req.body.source, clock.now());
      await deviceModels.modelAdded(result.model.id, clock.now());
      await platform.recordEvent('uploaded', 'model', result.model.id, clock.now(), {
        version: result.model.version,
      });
      return reply.code(201).send(result);
    },
  );

  app.post<{ Body: { source: string } }>(
    '/api/models/check',
    {
      config: { role: 'viewer' },
      schema: {
        tags: ['models'],
        summary: 'Check a model document and run its inline tests without storing it',
        body: sourceBody,
        response: {
          200: {
            type: 'object',
            properties: {
              model: { type: 'object', properties: { id: { type: 'string' }, version: { type: 'string' } } },
              tests: { type: 'object', additionalProperties: true },
            },
          },
          ...errorResponses,
        },
      },
    },
    async (req) => {
      const { model, tests } = models.check(req.body.source);
      return { model: { id: model.id, version: model.version }, tests };
    },
  );

  app.post<{ Body: TryBody }>(
    '/api/models/try',
    {
      config: { role: 'viewer' },
      schema: {
        tags: ['models'],
        summary: 'Decode one frame and name its points with a model; says how well each model fits',
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['frame'],
          properties: {
            frame: { type: 'string', minLength: 2, description: 'the raw frame as hex; spaces allowed' },
            contract: {
              type: 'string',
              description: "the contract to decode with (default: the model's first, else detection)",
            },
            model: { type: 'string', description: 'a stored model to apply (default: the best-fitting one)' },
            source: {
              type: 'string',
              maxLength: 1_000_000,
              description: 'an unsaved model document to apply instead',
            },
            context: {
              type: 'object',
              additionalProperties: true,
              description: 'what the frame does not carry (Modbus start, …)',
            },
          },
          examples: [
            {
              frame: '000100000019010316 08FD 0200 047E 0000 3039 138A 03B6 00D7 0001 08FB 0906',
              model: 'sim-power-meter',
            },
          ],
        },
        response: { 200: { type: 'object', additionalProperties: true }, ...errorResponses },
      },
    },
    async (req) =>
      models.tryFrame({
        raw: parseHex(req.body.frame),
        contract: req.body.contract,
        model: req.body.model,
        source: req.body.source,
        context: req.body.context,
      }),
  );

  app.get<{ Params: { id: string } }>(
    '/api/devices/:id/model',
    {
      config: { role: 'viewer' },
      schema: {
        tags: ['models'],
        summary: "A device's model: which one, how sure, and how it was found",
        params: idParams,
        response: {
          200: {
            type: 'object',
            properties: { model: deviceModelSchema, info: { ...modelInfo, type: ['object', 'null'] } },
          },
          ...errorResponses,
        },
      },
    },
    async (req) => {
      if (!(await store.getDevice(req.params.id))) throw new NotFoundError('device', req.params.id);
      const record = deviceModels.get(req.params.id) ?? null;
      const info = record ? (models.list().find((m) => m.id === record.modelId) ?? null) : null;
      return { model: record, info };
    },
  );

  app.put<{ Params: { id: string }; Body: { modelId: string | null } }>(
    '/api/devices/:id/model',
    {
      config: { role: 'operator' },
      schema: {
        tags: ['models'],
        summary: "Set a device's model (confidence 1, identification stops), or clear it with null",
        params: idParams,
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['modelId'],
          properties: { modelId: { type: ['string', 'null'], minLength: 1 } },
        },
        response: { 200: { type: 'object', properties: { model: deviceModelSchema } }, ...errorResponses },
      },
    },
    async (req) => {
      const { id } = req.params;
      if (!(await store.getDevice(id))) throw new NotFoundError('device', id);
      const { modelId } = req.body;
      if (modelId !== null && !models.get(modelId)) throw new NotFoundError('model', modelId);
      return { model: (await deviceModels.set(id, modelId, clock.now())) ?? null };
    },
  );

  app.post<{ Params: { id: string; name: string }; Body: { params?: Record<string, unknown> } | undefined }>(
    '/api/devices/:id/model-commands/:name',
    {
      config: { role: 'operator' },
      schema: {
        tags: ['models'],
        summary:
          "Run one of the device model's named commands (its message and fixed parameters, yours laid over)",
        params: {
          type: 'object',
          required: ['id', 'name'],
          properties: {
            id: { type: 'string', minLength: 1, maxLength: 128 },
            name: { type: 'string', minLength: 1, maxLength: 64 },
          },
        },
        body: {
          type: 'object',
          additionalProperties: false,
          properties: { params: { type: 'object', additionalProperties: true } },
        },
        response: { 202: commandSchema, ...errorResponses },
      },
    },
    async (req, reply) => {
      const { id, name } = req.params;
      const record = deviceModels.get(id);
      const model = record && models.get(record.modelId);
      if (!model) throw new PlatformError(PlatformErrorCode.NotFound, `device '${id}' has no model`);
      const command = model.commands.find((c) => c.name === name);
      if (!command) {
        throw new PlatformError(
          PlatformErrorCode.NotFound,
          `model '${model.id}' has no command '${name}' (has: ${model.commands.map((c) => c.name).join(', ') || 'none'})`,
        );
      }
      const sent = await platform.commandService.sendCommand({
        deviceId: id,
        action: command.message,
        params: { ...command.params, ...(req.body?.params ?? {}) },
        requestedBy: req.principal?.username ?? null,
      });
      return reply.code(202).send(sent);
    },
  );

  app.get<{ Params: { id: string } }>(
    '/api/gateways/:id/catalog',
    {
      config: { role: 'viewer' },
      schema: {
        tags: ['models'],
        summary: "The contracts and models of the gateway's latest birth, each compared with the platform's",
        params: idParams,
        response: {
          200: {
            type: 'object',
            properties: {
              items: {
                type: 'array',
                items: {
                  type: 'object',
                  properties: {
                    kind: { type: 'string', enum: ['contract', 'model'] },
                    id: { type: 'string' },
                    version: { type: 'string' },
                    hash: { type: 'string' },
                    platformHash: { type: ['string', 'null'] },
                    state: {
                      type: 'string',
                      enum: ['same', 'missing', 'differs', 'installed', 'rejected', 'conflict'],
                    },
                    detail: { type: 'string' },
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
      if (!(await store.getGateway(req.params.id))) throw new NotFoundError('gateway', req.params.id);
      return { items: platform.catalogs.status(req.params.id) };
    },
  );
}
