// The edge of the command manager: validates requests against the registry, persists every record,
// publishes commands and queries on the gateway's downlink, and keeps one real timer for the earliest
// deadline. The decisions (resend, fail, settle) are the pure CommandManager's.
import { randomUUID } from 'node:crypto';
import type { DownlinkEnvelope } from '../../protocol/envelope.ts';
import type { Clock } from '../clock.ts';
import type { ContractRegistry } from '../contract-registry.ts';
import { NotFoundError, PlatformError, PlatformErrorCode } from '../errors.ts';
import type { PlatformNotification } from '../events.ts';
import { CommandKind, Lifecycle, type CommandRecord, type PlatformStore } from '../store/types.ts';
import {
  FINAL_STATES,
  settle,
  type CommandAnswer,
  type CommandEffect,
  type CommandManager,
  type CommandRequest,
} from './command-manager.ts';

export interface CommandServiceDeps {
  store: PlatformStore;
  contracts: ContractRegistry;
  clock: Clock;
  manager: CommandManager;
  publishDown(gatewayId: string, envelope: DownlinkEnvelope, expirySeconds?: number): void;
  notify(notification: PlatformNotification): void;
  onError(what: string, err: unknown): void;
}

export class CommandService {
  #timer: NodeJS.Timeout | undefined;
  #timersEnabled = false;

  constructor(private readonly deps: CommandServiceDeps) {}

  /** Real timers on (the platform runs) or off (tests call runTimers with a fake clock). */
  enableTimers(on: boolean): void {
    this.#timersEnabled = on;
    if (!on && this.#timer) clearTimeout(this.#timer);
    if (!on) this.#timer = undefined;
  }

  /** A control command to a device (through its gateway). */
  async sendCommand(input: {
    deviceId: string;
    action: string;
    params?: Record<string, unknown>;
    requestedBy?: string | null;
    /**
     * The command's id when the caller derives it from what caused the command (a rule's firing,
     * rules/firing-key.ts): the id is the gateway's idempotency key, so two senders of the same command
     * — an edge and the cloud acting on one reading — have it executed once. Default: a random id.
     */
    id?: string;
  }): Promise<CommandRecord> {
    const { store, contracts } = this.deps;
    const device = await store.getDevice(input.deviceId);
    if (!device) throw new NotFoundError('device', input.deviceId);
    if (device.lifecycle !== Lifecycle.Active) {
      throw new PlatformError(
        PlatformErrorCode.DeviceNotActive,
        `device '${device.id}' is ${device.lifecycle}`,
      );
    }
    if (!device.gatewayId)
      throw new PlatformError(PlatformErrorCode.GatewayUnknown, `device '${device.id}' has no gateway`);
    const contract = device.contractId ? contracts.get(device.contractId) : undefined;
    const known = contract?.messages ?? [];
    if (input.action !== 'poll' && known.length > 0 && !known.includes(input.action)) {
      throw new PlatformError(
        PlatformErrorCode.InvalidInput,
        `action '${input.action}' is not one of ${['poll', ...known].join(', ')} (contract ${contract?.id})`,
      );
    }
    return this.#submit({
      id: input.id ?? `cmd-${randomUUID()}`,
      kind: CommandKind.Command,
      gatewayId: device.gatewayId,
      deviceId: device.id,
      action: input.action,
      params: input.params ?? {},
      requestedBy: input.requestedBy ?? null,
    });
  }

  /** A status query to a gateway, optionally about some of its devices. */
  async sendQuery(input: {
    gatewayId: string;
    devices?: string[];
    requestedBy?: string | null;
  }): Promise<CommandRecord> {
    const gateway = await this.deps.store.getGateway(input.gatewayId);
    if (!gateway) throw new NotFoundError('gateway', input.gatewayId);
    return this.#submit({
      id: `q-${randomUUID()}`,
      kind: CommandKind.Query,
      gatewayId: gateway.id,
      deviceId: input.devices?.length === 1 ? input.devices[0]! : null,
      action: 'status',
      params: input.devices ? { devs: input.devices } : {},
      requestedBy: input.requestedBy ?? null,
    });
  }

  async #submit(request: CommandRequest): Promise<CommandRecord> {
    const { manager, clock, store } = this.deps;
    await this.apply(manager.submit(request, clock.now()));
    return manager.get(request.id) ?? (await store.getCommand(request.id))!;
  }

  async apply(effects: readonly CommandEffect[]): Promise<void> {
    for (const effect of effects) {
      if (effect.type === 'save') {
        await this.deps.store.saveCommand(effect.record);
        this.deps.notify({ type: 'command', record: effect.record });
      } else this.#send(effect.record);
    }
    this.#arm();
  }

  #send(record: CommandRecord): void {
    const ts = this.deps.clock.now();
    // A copy the gateway has not fetched when this try times out must not run later (after the command
    // was declared failed): it expires with the try (MQTT 5 expiry has whole seconds; at least 1).
    const expiry = Math.max(1, Math.floor(this.deps.manager.timeoutOf(record.kind) / 1000));
    const base = { v: 1, gw: record.gatewayId, ts, id: record.id } as const;
    if (record.kind === CommandKind.Query) {
      const devs = record.params.devs as string[] | undefined;
      this.deps.publishDown(record.gatewayId, { ...base, k: 'query', ...(devs ? { devs } : {}) }, expiry);
    } else {
      const cmd = {
        ...base,
        k: 'cmd',
        dev: record.deviceId ?? '',
        action: record.action,
        params: record.params,
      } as const;
      this.deps.publishDown(record.gatewayId, cmd, expiry);
    }
  }

  /** Settles the command here, or in the store when another platform instance sent it. */
  async answer(answer: CommandAnswer, now: number): Promise<void> {
    const effects = this.deps.manager.onAnswer(answer, now);
    if (effects.length > 0) return this.apply(effects);
    const stored = await this.deps.store.getCommand(answer.id);
    if (stored && !FINAL_STATES.has(stored.state)) {
      await this.apply([{ type: 'save', record: settle(stored, answer, now) }]);
    }
  }

  /** Deadlines reached: resend or fail — unless another instance settled the command meanwhile. */
  async runTimers(): Promise<void> {
    const { manager, store, clock } = this.deps;
    const effects = manager.tick(clock.now());
    const settledElsewhere = new Set<string>();
    for (const effect of effects) {
      if (effect.type !== 'send' || settledElsewhere.has(effect.record.id)) continue;
      const stored = await store.getCommand(effect.record.id);
      if (stored && FINAL_STATES.has(stored.state)) {
        settledElsewhere.add(stored.id);
        manager.forget(stored.id);
      }
    }
    await this.apply(effects.filter((e) => !settledElsewhere.has(e.record.id)));
  }

  /** One real timer for the earliest deadline (the state machine itself has no timers). */
  #arm(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    const next = this.deps.manager.nextDeadline();
    if (next === undefined || !this.#timersEnabled) return;
    this.#timer = setTimeout(
      () => {
        this.#timer = undefined;
        void this.runTimers().catch((err) => this.deps.onError('command timer', err));
      },
      Math.max(0, next - this.deps.clock.now()),
    );
  }
}
