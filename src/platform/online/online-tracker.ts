// Which gateways and devices are online, as a pure state machine over uplink events and time.
// Gateways: online from their birth or any uplink, offline on their will (unless stale) or when no
// uplink came for the valid interval. Devices: online from a reading, offline when no reading came for
// `deviceMissedPolls` poll intervals, or when their gateway goes offline. Every change is returned.

export const DEFAULT_GATEWAY_VALID_INTERVAL_MS = 150_000;
export const DEFAULT_DEVICE_MISSED_POLLS = 3;
export const DEFAULT_DEVICE_POLL_MS = 60_000;

export interface OnlineConfig {
  gatewayValidIntervalMs: number;
  deviceMissedPolls: number;
  defaultDevicePollMs: number;
}
export const DEFAULT_ONLINE_CONFIG: Readonly<OnlineConfig> = Object.freeze({
  gatewayValidIntervalMs: DEFAULT_GATEWAY_VALID_INTERVAL_MS,
  deviceMissedPolls: DEFAULT_DEVICE_MISSED_POLLS,
  defaultDevicePollMs: DEFAULT_DEVICE_POLL_MS,
});

export const OnlineReason = {
  Birth: 'birth',
  Uplink: 'uplink',
  Reading: 'reading',
  Will: 'will',
  Silent: 'silent',
  GatewayOffline: 'gateway-offline',
} as const;
export type OnlineReason = (typeof OnlineReason)[keyof typeof OnlineReason];

export interface OnlineChange {
  subjectType: 'gateway' | 'device';
  id: string;
  online: boolean;
  at: number;
  reason: OnlineReason;
  detail?: Record<string, unknown>;
}

interface GatewayState {
  online: boolean;
  lastSeen: number;
  birthSeq: number;
  epoch: string | null;
}
interface DeviceState {
  online: boolean;
  lastSeen: number;
  gatewayId: string | null;
  pollMs: number | null;
}

export class OnlineTracker {
  readonly #config: Readonly<OnlineConfig>;
  readonly #gateways = new Map<string, GatewayState>();
  readonly #devices = new Map<string, DeviceState>();

  constructor(config: Partial<OnlineConfig> = {}) {
    this.#config = Object.freeze({ ...DEFAULT_ONLINE_CONFIG, ...config });
  }

  /** Restores what the registry knew at start (online flags are re-derived from traffic and time). */
  restoreGateway(id: string, online: boolean, lastSeen: number | null): void {
    this.#gateways.set(id, { online, lastSeen: lastSeen ?? 0, birthSeq: -1, epoch: null });
  }
  restoreDevice(
    id: string,
    gatewayId: string | null,
    pollMs: number | null,
    online: boolean,
    lastSeen: number | null,
  ): void {
    this.#devices.set(id, { online, lastSeen: lastSeen ?? 0, gatewayId, pollMs });
  }

  /** The gateway or device was deleted from the registry: no more online/offline changes for it. */
  forget(subjectType: 'gateway' | 'device', id: string): void {
    if (subjectType === 'gateway') this.#gateways.delete(id);
    else this.#devices.delete(id);
  }

  /** Poll interval and gateway of a device, as its gateway's birth declares them. */
  describeDevice(id: string, gatewayId: string | null, pollMs: number | null): void {
    const state = this.#devices.get(id);
    if (state) {
      state.gatewayId = gatewayId ?? state.gatewayId;
      state.pollMs = pollMs ?? state.pollMs;
    } else this.#devices.set(id, { online: false, lastSeen: 0, gatewayId, pollMs });
  }

  #gateway(id: string): GatewayState {
    let state = this.#gateways.get(id);
    if (!state) {
      state = { online: false, lastSeen: 0, birthSeq: -1, epoch: null };
      this.#gateways.set(id, state);
    }
    return state;
  }

  #gatewayUp(id: string, now: number, reason: OnlineReason): OnlineChange[] {
    const state = this.#gateway(id);
    state.lastSeen = Math.max(state.lastSeen, now);
    if (state.online) return [];
    state.online = true;
    return [{ subjectType: 'gateway', id, online: true, at: now, reason }];
  }

  birth(id: string, seq: number, epoch: string, now: number): OnlineChange[] {
    const state = this.#gateway(id);
    state.birthSeq = epoch === state.epoch ? Math.max(state.birthSeq, seq) : seq;
    state.epoch = epoch;
    return this.#gatewayUp(id, now, OnlineReason.Birth);
  }

  uplink(id: string, now: number): OnlineChange[] {
    return this.#gatewayUp(id, now, OnlineReason.Uplink);
  }

  /** The gateway's will. A will older than the latest birth is stale (the gateway is back) and ignored. */
  will(id: string, seq: number, epoch: string | undefined, now: number, reason?: string): OnlineChange[] {
    const state = this.#gateway(id);
    const sameEpoch = epoch === undefined || state.epoch === null || epoch === state.epoch;
    if (sameEpoch && seq < state.birthSeq) return [];
    return this.#gatewayDown(
      id,
      state,
      now,
      OnlineReason.Will,
      reason ? { gatewayReason: reason } : undefined,
    );
  }

  #gatewayDown(
    id: string,
    state: GatewayState,
    now: number,
    reason: OnlineReason,
    detail?: Record<string, unknown>,
  ): OnlineChange[] {
    if (!state.online) return [];
    state.online = false;
    const changes: OnlineChange[] = [
      { subjectType: 'gateway', id, online: false, at: now, reason, ...(detail ? { detail } : {}) },
    ];
    for (const [deviceId, device] of this.#devices) {
      if (device.gatewayId !== id || !device.online) continue;
      device.online = false;
      changes.push({
        subjectType: 'device',
        id: deviceId,
        online: false,
        at: now,
        reason: OnlineReason.GatewayOffline,
      });
    }
    return changes;
  }

  /** A reading of the device arrived (through its gateway, which is therefore alive too). */
  reading(deviceId: string, gatewayId: string, now: number): OnlineChange[] {
    const changes = this.#gatewayUp(gatewayId, now, OnlineReason.Uplink);
    let device = this.#devices.get(deviceId);
    if (!device) {
      device = { online: false, lastSeen: 0, gatewayId, pollMs: null };
      this.#devices.set(deviceId, device);
    }
    device.gatewayId = gatewayId;
    device.lastSeen = Math.max(device.lastSeen, now);
    if (!device.online) {
      device.online = true;
      changes.push({
        subjectType: 'device',
        id: deviceId,
        online: true,
        at: now,
        reason: OnlineReason.Reading,
      });
    }
    return changes;
  }

  /**
   * Gateways and devices tick(now) would declare silent. With several platform instances sharing the
   * uplinks, another instance may have heard from them: the caller checks the store and reports it
   * with seen() before calling tick().
   */
  silentCandidates(now: number): { subjectType: 'gateway' | 'device'; id: string }[] {
    const out: { subjectType: 'gateway' | 'device'; id: string }[] = [];
    for (const [id, state] of this.#gateways) {
      if (state.online && now - state.lastSeen > this.#config.gatewayValidIntervalMs)
        out.push({ subjectType: 'gateway', id });
    }
    for (const [id, device] of this.#devices) {
      const allowed = (device.pollMs ?? this.#config.defaultDevicePollMs) * this.#config.deviceMissedPolls;
      if (device.online && now - device.lastSeen > allowed) out.push({ subjectType: 'device', id });
    }
    return out;
  }

  /** Last communication known from elsewhere (the shared store); never changes the online state. */
  seen(subjectType: 'gateway' | 'device', id: string, lastSeen: number): void {
    const state = subjectType === 'gateway' ? this.#gateways.get(id) : this.#devices.get(id);
    if (state) state.lastSeen = Math.max(state.lastSeen, lastSeen);
  }

  /** Time passed: silent gateways and devices go offline. */
  tick(now: number): OnlineChange[] {
    const changes: OnlineChange[] = [];
    for (const [id, state] of this.#gateways) {
      if (state.online && now - state.lastSeen > this.#config.gatewayValidIntervalMs) {
        changes.push(...this.#gatewayDown(id, state, now, OnlineReason.Silent, { lastSeen: state.lastSeen }));
      }
    }
    for (const [id, device] of this.#devices) {
      const allowed = (device.pollMs ?? this.#config.defaultDevicePollMs) * this.#config.deviceMissedPolls;
      if (device.online && now - device.lastSeen > allowed) {
        device.online = false;
        changes.push({
          subjectType: 'device',
          id,
          online: false,
          at: now,
          reason: OnlineReason.Silent,
          detail: { lastSeen: device.lastSeen },
        });
      }
    }
    return changes;
  }

  /** How many gateways or devices are online now (read when metrics are scraped). */
  onlineCount(subjectType: 'gateway' | 'device'): number {
    let count = 0;
    for (const state of (subjectType === 'gateway' ? this.#gateways : this.#devices).values())
      if (state.online) count++;
    return count;
  }

  isOnline(subjectType: 'gateway' | 'device', id: string): boolean {
    return (subjectType === 'gateway' ? this.#gateways.get(id) : this.#devices.get(id))?.online ?? false;
  }

  epochOf(gatewayId: string): string | null {
    return this.#gateways.get(gatewayId)?.epoch ?? null;
  }
}
