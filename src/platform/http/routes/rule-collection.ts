// The routes of a collection of rule documents (linkage rules, alarm rules): list, create, read,
// replace, enable/disable and delete, each answered with the rule and its state per originator.
// Viewers read; operators write.
import type { FastifyInstance } from 'fastify';
import { errorResponses, idParams } from '../schemas.ts';

/** What a collection of rules does; the routes only translate HTTP to these calls. */
export interface RuleCollection<R extends { id: string }> {
  list(): Promise<R[]>;
  create(body: unknown): Promise<R>;
  get(id: string): Promise<R>;
  replace(id: string, body: unknown): Promise<R>;
  setEnabled(id: string, enabled: boolean): Promise<R>;
  remove(id: string): Promise<void>;
  /** The rule's state per device (or gateway) it has seen. */
  status(id: string): unknown;
}

export interface RuleCollectionRoutes {
  /** e.g. '/api/rules'. */
  path: string;
  tag: string;
  /** e.g. 'linkage rule': the summaries name it. */
  noun: string;
  schema: object;
  body: object;
  /** What the list, replace and delete summaries add in parentheses. */
  notes: { list: string; replace: string; remove: string };
}

export function ruleCollectionRoutes<R extends { id: string }>(
  app: FastifyInstance,
  rules: RuleCollection<R>,
  { path, tag, noun, schema, body, notes }: RuleCollectionRoutes,
): void {
  const withStatus = (rule: R) => ({ ...rule, status: rules.status(rule.id) });
  const Noun = noun[0]!.toUpperCase() + noun.slice(1);
  const one = `${path}/:id`;

  app.get(
    path,
    {
      config: { role: 'viewer' },
      schema: {
        tags: [tag],
        summary: `${Noun}s, ${notes.list}`,
        response: {
          200: { type: 'object', properties: { items: { type: 'array', items: schema } } },
          ...errorResponses,
        },
      },
    },
    async () => ({ items: (await rules.list()).map(withStatus) }),
  );

  app.post<{ Body: unknown }>(
    path,
    {
      config: { role: 'operator' },
      schema: {
        tags: [tag],
        summary: `Create a ${noun} (409 if the id exists)`,
        body,
        response: { 201: schema, ...errorResponses },
      },
    },
    async (req, reply) => reply.code(201).send(withStatus(await rules.create(req.body))),
  );

  app.get<{ Params: { id: string } }>(
    one,
    {
      config: { role: 'viewer' },
      schema: {
        tags: [tag],
        summary: `One ${noun}`,
        params: idParams,
        response: { 200: schema, ...errorResponses },
      },
    },
    async (req) => withStatus(await rules.get(req.params.id)),
  );

  app.put<{ Params: { id: string }; Body: unknown }>(
    one,
    {
      config: { role: 'operator' },
      schema: {
        tags: [tag],
        summary: `Replace a ${noun} (${notes.replace})`,
        params: idParams,
        body,
        response: { 200: schema, ...errorResponses },
      },
    },
    async (req) => withStatus(await rules.replace(req.params.id, req.body)),
  );

  app.patch<{ Params: { id: string }; Body: { enabled: boolean } }>(
    one,
    {
      config: { role: 'operator' },
      schema: {
        tags: [tag],
        summary: `Enable or disable a ${noun}`,
        params: idParams,
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['enabled'],
          properties: { enabled: { type: 'boolean' } },
        },
        response: { 200: schema, ...errorResponses },
      },
    },
    async (req) => withStatus(await rules.setEnabled(req.params.id, req.body.enabled)),
  );

  app.delete<{ Params: { id: string } }>(
    one,
    {
      config: { role: 'operator' },
      schema: {
        tags: [tag],
        summary: `Delete a ${noun} (${notes.remove})`,
        params: idParams,
        response: { 204: { type: 'null' }, ...errorResponses },
      },
    },
    async (req, reply) => {
      await rules.remove(req.params.id);
      return reply.code(204).send();
    },
  );
}
