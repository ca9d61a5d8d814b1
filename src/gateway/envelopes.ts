// The envelopes the gateway writes, built from its state (docs/protocol.md): birth, will, command
// results and status answers. Pure: the caller gives the common head (seq, time) and the facts.
import { PROTOCOL_VERSION, type Envelope } from '../protocol/envelope.ts';
import type { CommandOutcome } from './command-cache.ts';
import type { Device } from './device.ts';
import type { GatewayCatalog } from './catalog.ts';

export const SOFTWARE = 'mqiot-gateway 0.1.0';

export interface Head {
  v: typeof PROTOCOL_VERSION;
  gw: string;
  seq: number;
  ts: number;
}

export function head(gw: string, seq: number, ts: number): Head {
  return { v: PROTOCOL_VERSION, gw, seq, ts };
}

/** `birth`: the epoch and every configured device, with what the platform registers of it. */
export function birthEnvelope(
  h: Head,
  epoch: string,
  devices: Iterable<Device>,
  catalog: GatewayCatalog,
): Envelope {
  return {
    ...h,
    k: 'birth',
    epoch,
    sw: SOFTWARE,
    devices: [...devices].map((d) => ({
      dev: d.config.id,
      c: d.contract.id,
      ...(d.config.model ? { model: catalog.modelOf.get(d.config.id) ?? d.config.model } : {}),
      ...(d.config.poll.length ? { pollMs: Math.min(...d.config.poll.map((p) => p.everyMs)) } : {}),
      transport: d.config.transport.type,
      address:
        'path' in d.config.transport
          ? d.config.transport.path
          : `${d.config.transport.host}:${d.config.transport.port}`,
    })),
    ...(catalog.items.length > 0 ? { catalog: catalog.items } : {}),
  };
}

/** `will`: its seq is the seq of the birth of the same connection (a stale will is ignored). */
export function willEnvelope(h: Head, epoch: string, reason: string): Envelope {
  return { ...h, k: 'will', epoch, reason };
}

export function cmdResultEnvelope(
  h: Head,
  id: string,
  dev: string,
  outcome: CommandOutcome,
  cached: boolean,
): Envelope {
  return {
    ...h,
    k: 'cmd-result',
    id,
    dev,
    ok: outcome.ok,
    ...(outcome.result ? { result: outcome.result } : {}),
    ...(outcome.error ? { error: outcome.error } : {}),
    ...(cached ? { cached: true } : {}),
  };
}

export function statusEnvelope(
  h: Head,
  id: string,
  answer: { complete: boolean; status: Record<string, unknown>; error?: string },
): Envelope {
  return {
    ...h,
    k: 'status',
    id,
    complete: answer.complete,
    status: answer.status,
    ...(answer.error ? { error: answer.error } : {}),
  };
}
