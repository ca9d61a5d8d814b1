// Contracts: list, upload (validated, inline tests run), versions, try a frame.
import type { FastifyInstance } from 'fastify';
import { PlatformError, PlatformErrorCode } from '../../errors.ts';
import type { Platform } from '../../platform.ts';
import { errorResponses, idParams } from '../schemas.ts';

const contractInfo = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    version: { type: 'string' },
    name: { type: ['string', 'null'] },
    builtin: { type: 'boolean' },
    messages: { type: 'array', items: { type: 'string' } },
  },
} as const;

function parseHex(text: string): Uint8Array {
  const clean = text.replace(/[\s:-]/g, '').replace(/^0x/i, '');
  if (clean.length === 0 || clean.length % 2 !== 0 || !/^[0-9a-f]+$/i.test(clean)) {
    throw new PlatformError(
      PlatformErrorCode.InvalidInput,
      'frame: must be hex bytes, e.g. "68 61 01 ... 16"',
    );
  }
  return Uint8Array.from(Buffer.from(clean, 'hex'));
}

export function contractRoutes(app: FastifyInstance, platform: Platform): void {
  const { contracts, store, clock } = platform;

  // Contracts are YAML (or JSON) documents: accept them as plain text too.
  for (const type of ['text/yaml', 'application/yaml', 'application/x-yaml', 'text/plain']) {
    if (!app.hasContentTypeParser(type)) {
      app.addContentTypeParser(type, { parseAs: 'string' }, (_req, body, done) =>
        done(null, { source: body }),
      );
    }
  }

  app.get(
    '/api/contracts',
    {
      config: { role: 'viewer' },
      schema: {
        tags: ['contracts'],
        summary: 'Contracts the platform decodes with (built-in and uploaded, newest version each)',
        response: {
          200: {
            type: 'object',
            properties: {
              items: { type: 'array', items: contractInfo },
              unavailable: { type: 'array', items: { type: 'string' } },
            },
          },
        },
      },
    },
    async () => ({ items: contracts.list(), unavailable: [...contracts.unavailable] }),
  );

  app.post<{ Body: { source: string } }>(
    '/api/contracts',
    {
      config: { role: 'operator' },
      schema: {
        tags: ['contracts'],
        summary:
          'Upload a contract (YAML as text/yaml, or JSON { source }); validated and its inline tests run first',
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['source'],
          properties: { source: { type: 'string', minLength: 1, maxLength: 1_000_000 } },
        },
        response: {
          201: {
            type: 'object',
            properties: { contract: contractInfo, tests: { type: 'object', additionalProperties: true } },
          },
          ...errorResponses,
        },
      },
    },
    async (req, reply) => {
      const result = await contracts.upload(req.body.source, clock.now());
      await platform.recordEvent('uploaded', 'contract', result.contract.id, clock.now(), {
        version: result.contract.version,
      });
      return reply.code(201).send(result);
    },
  );

  app.get<{ Params: { id: string } }>(
    '/api/contracts/:id/versions',
    {
      config: { role: 'viewer' },
      schema: {
        tags: ['contracts'],
        summary: 'Uploaded versions of a contract, oldest first, with their source',
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
                    id: { type: 'string' },
                    version: { type: 'string' },
                    source: { type: 'string' },
                    createdAt: { type: 'integer' },
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
      const items = await store.listContractVersions(req.params.id);
      if (items.length === 0 && !contracts.get(req.params.id)) {
        throw new PlatformError(PlatformErrorCode.NotFound, `contract '${req.params.id}' not found`);
      }
      return { items };
    },
  );

  app.post<{ Params: { id: string }; Body: { frame: string; context?: Record<string, unknown> } }>(
    '/api/contracts/:id/try',
    {
      config: { role: 'viewer' },
      schema: {
        tags: ['contracts'],
        summary: 'Decode one frame (hex) with a contract: paste a frame, see the decoded values',
        params: idParams,
        body: {
          type: 'object',
          description: 'The frame to decode and the context it does not carry itself',
          additionalProperties: false,
          required: ['frame'],
          properties: {
            frame: {
              type: 'string',
              minLength: 2,
              description: 'The raw frame as hex; spaces allowed',
              examples: ['68 61 01 00 00 00 00 68 91 08 33 33 34 33 59 33 33 33 8A 16'],
            },
            context: {
              type: 'object',
              additionalProperties: true,
              description:
                'Decoding context, as a gateway sends it in a frame’s ctx: Modbus { unit, function, ' +
                'start, count }, DL/T 645 { di }',
              examples: [{ di: '00010000' }],
            },
          },
          // a DL/T 645-2007 energy answer (contract dlt645-2007)
          examples: [{ frame: '6861010000000068910833333433593333338a16', context: { di: '00010000' } }],
        },
        response: { 200: { type: 'object', additionalProperties: true }, ...errorResponses },
      },
    },
    async (req) => contracts.tryFrame(req.params.id, parseHex(req.body.frame), req.body.context),
  );
}
