// Gateways and devices: list, filter, page, detail, edit assets.
import type { FastifyInstance } from 'fastify';
import { NotFoundError } from '../../errors.ts';
import type { Platform } from '../../platform.ts';
import type { AssetPatch, Lifecycle } from '../../store/types.ts';
import {
  assetPatchSchema,
  devicePatchSchema,
  deviceSchema,
  errorResponses,
  gatewaySchema,
  idParams,
  lifecycleSchema,
  pageOf,
  pageQuery,
} from '../schemas.ts';

interface DeviceListQuery {
  gateway?: string;
  contract?: string;
  type?: string;
  lifecycle?: Lifecycle;
  online?: boolean;
  tag?: string;
  q?: string;
  offset: number;
  limit: number;
}

/** `?data=keep|drop`: required, so nobody deletes a device's history by omission. */
const removalQuery = {
  type: 'object',
  additionalProperties: false,
  required: ['data'],
  properties: {
    data: {
      type: 'string',
      enum: ['keep', 'drop'],
      description: 'keep: stored readings, frames and reports stay queryable; drop: they are deleted too',
    },
  },
} as const;

const removedSchema = {
  type: 'object',
  properties: {
    devices: { type: 'array', items: { type: 'string' }, description: 'devices removed from the registry' },
    dataRows: { type: 'integer', description: 'rows of data deleted (0 with data=keep)' },
  },
} as const;

type RemovalRequest = { Params: { id: string }; Querystring: { data: 'keep' | 'drop' } };

export function registryRoutes(app: FastifyInstance, platform: Platform): void {
  const { store, clock } = platform;

  app.delete<RemovalRequest>(
    '/api/gateways/:id',
    {
      config: { role: 'operator' },
      schema: {
        tags: ['gateways'],
        summary: 'Delete a gateway and its devices, keeping or dropping their data',
        description:
          'A deleted gateway gets no more heartbeats; if it connects again it is treated as an unknown ' +
          'gateway (platform.unknownGateways). Its MQTT credentials are revoked and its connections cut.',
        params: idParams,
        querystring: removalQuery,
        response: { 200: removedSchema, ...errorResponses },
      },
    },
    async (req) => {
      const removed = await platform.removeGateway(req.params.id, req.query.data === 'drop');
      if (!removed) throw new NotFoundError('gateway', req.params.id);
      return removed;
    },
  );

  app.delete<RemovalRequest>(
    '/api/devices/:id',
    {
      config: { role: 'operator' },
      schema: {
        tags: ['devices'],
        summary: 'Delete a device, keeping or dropping its data',
        description:
          'A device whose gateway still sends its frames is registered again; retire it ' +
          '(lifecycle) to keep it listed but out of use instead.',
        params: idParams,
        querystring: removalQuery,
        response: { 200: removedSchema, ...errorResponses },
      },
    },
    async (req) => {
      const removed = await platform.removeDevice(req.params.id, req.query.data === 'drop');
      if (!removed) throw new NotFoundError('device', req.params.id);
      return removed;
    },
  );

  app.get(
    '/api/gateways',
    {
      config: { role: 'viewer' },
      schema: {
        tags: ['gateways'],
        summary: 'All gateways with asset data and online status',
        response: { 200: { type: 'object', properties: { items: { type: 'array', items: gatewaySchema } } } },
      },
    },
    async () => ({ items: await store.listGateways() }),
  );

  app.get<{ Params: { id: string } }>(
    '/api/gateways/:id',
    {
      config: { role: 'viewer' },
      schema: {
        tags: ['gateways'],
        summary: 'One gateway, its devices and latest reports',
        params: idParams,
        response: {
          200: {
            type: 'object',
            properties: {
              gateway: gatewaySchema,
              devices: { type: 'array', items: deviceSchema },
              reports: { type: 'array', items: { type: 'object', additionalProperties: true } },
            },
          },
          ...errorResponses,
        },
      },
    },
    async (req) => {
      const gateway = await store.getGateway(req.params.id);
      if (!gateway) throw new NotFoundError('gateway', req.params.id);
      const devices = await store.listDevices({ gatewayId: gateway.id, limit: 1000 });
      const reports = await store.listReports(gateway.id, 10);
      return { gateway, devices: devices.items, reports };
    },
  );

  app.patch<{ Params: { id: string }; Body: AssetPatch }>(
    '/api/gateways/:id',
    {
      config: { role: 'operator' },
      schema: {
        tags: ['gateways'],
        summary: 'Edit a gateway’s asset data and lifecycle',
        params: idParams,
        body: assetPatchSchema,
        response: { 200: gatewaySchema, ...errorResponses },
      },
    },
    async (req) => {
      const updated = await store.updateGatewayAsset(req.params.id, req.body, clock.now());
      if (!updated) throw new NotFoundError('gateway', req.params.id);
      platform.gatewayUpdated(updated);
      await platform.recordEvent('updated', 'gateway', updated.id, clock.now(), {
        fields: Object.keys(req.body),
      });
      return updated;
    },
  );

  app.get<{ Querystring: DeviceListQuery }>(
    '/api/devices',
    {
      config: { role: 'viewer' },
      schema: {
        tags: ['devices'],
        summary: 'Devices, filtered and paged',
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            gateway: { type: 'string' },
            contract: { type: 'string' },
            type: { type: 'string' },
            lifecycle: lifecycleSchema,
            online: { type: 'boolean' },
            tag: { type: 'string' },
            q: { type: 'string', description: 'search in id, name and location' },
            ...pageQuery,
          },
        },
        response: {
          200: pageOf(deviceSchema),
          ...errorResponses,
        },
      },
    },
    async (req) => {
      const q = req.query;
      return store.listDevices({
        gatewayId: q.gateway,
        contractId: q.contract,
        type: q.type,
        lifecycle: q.lifecycle,
        online: q.online,
        tag: q.tag,
        search: q.q,
        offset: q.offset,
        limit: q.limit,
      });
    },
  );

  app.get<{ Params: { id: string } }>(
    '/api/devices/:id',
    {
      config: { role: 'viewer' },
      schema: {
        tags: ['devices'],
        summary: 'One device with its latest values',
        params: idParams,
        response: {
          200: {
            type: 'object',
            properties: {
              device: deviceSchema,
              latest: { type: 'array', items: { type: 'object', additionalProperties: true } },
            },
          },
          ...errorResponses,
        },
      },
    },
    async (req) => {
      const device = await store.getDevice(req.params.id);
      if (!device) throw new NotFoundError('device', req.params.id);
      return { device, latest: await store.latest(device.id) };
    },
  );

  app.patch<{
    Params: { id: string };
    Body: AssetPatch & { pollMs?: number | null; contractId?: string | null };
  }>(
    '/api/devices/:id',
    {
      config: { role: 'operator' },
      schema: {
        tags: ['devices'],
        summary: 'Edit a device’s asset data, lifecycle, poll interval or contract',
        params: idParams,
        body: devicePatchSchema,
        response: { 200: deviceSchema, ...errorResponses },
      },
    },
    async (req) => {
      const updated = await store.updateDeviceAsset(req.params.id, req.body, clock.now());
      if (!updated) throw new NotFoundError('device', req.params.id);
      platform.deviceUpdated(updated);
      await platform.recordEvent('updated', 'device', updated.id, clock.now(), {
        fields: Object.keys(req.body),
      });
      return updated;
    },
  );
}
