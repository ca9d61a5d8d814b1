// Platform settings that may change at run time: the retention of readings.
import type { FastifyInstance } from 'fastify';
import type { Platform } from '../../platform.ts';
import { errorResponses } from '../schemas.ts';

const settingsSchema = {
  type: 'object',
  properties: {
    retentionDays: { type: 'integer', minimum: 0, description: 'days of readings kept; 0 = forever' },
  },
} as const;

export function settingsRoutes(app: FastifyInstance, platform: Platform): void {
  app.get(
    '/api/settings',
    {
      config: { role: 'viewer' },
      schema: { tags: ['settings'], summary: 'Run-time settings', response: { 200: settingsSchema } },
    },
    async () => ({ retentionDays: platform.retentionDays }),
  );

  app.patch<{ Body: { retentionDays: number } }>(
    '/api/settings',
    {
      config: { role: 'admin' },
      schema: {
        tags: ['settings'],
        summary: 'Change run-time settings (kept across restarts)',
        body: { ...settingsSchema, additionalProperties: false, required: ['retentionDays'] },
        response: { 200: settingsSchema, ...errorResponses },
      },
    },
    async (req) => {
      await platform.setRetentionDays(req.body.retentionDays);
      return { retentionDays: platform.retentionDays };
    },
  );
}
