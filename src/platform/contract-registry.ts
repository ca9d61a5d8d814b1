// The data parsing contracts the platform decodes with: the built-in ones plus uploaded versions
// (kept in the store, newest version per id wins). Uploads are validated and their inline tests run
// before they are accepted.
import {
  ContractError,
  builtinContract,
  detectContract,
  listBuiltinContracts,
  loadContract,
} from '../contracts/index.ts';
import type { Contract, ContractTestReport, DecodeResult } from '../contracts/index.ts';
import { PlatformError, PlatformErrorCode } from './errors.ts';
import type { PlatformStore } from './store/types.ts';

export interface ContractInfo {
  id: string;
  version: string;
  name: string | null;
  builtin: boolean;
  messages: readonly string[];
}

export interface ContractSource {
  builtinIds(): string[];
  builtin(id: string): Contract;
  load(source: string): Contract;
}

/** The real contracts component. Tests may pass another source with the same shape. */
export const defaultContractSource: ContractSource = {
  builtinIds: listBuiltinContracts,
  builtin: builtinContract,
  load: (source) => loadContract(source, { runTests: false }),
};

export class ContractRegistry {
  readonly #contracts = new Map<string, { contract: Contract; builtin: boolean }>();
  readonly #unavailable: string[] = [];

  constructor(
    private readonly store: PlatformStore,
    private readonly source: ContractSource = defaultContractSource,
  ) {}

  /** Loads the built-ins, then every stored version (later versions replace earlier ones). */
  async load(): Promise<void> {
    for (const id of this.source.builtinIds()) {
      try {
        this.#contracts.set(id, { contract: this.source.builtin(id), builtin: true });
      } catch {
        // A built-in that cannot be built is reported by list() as unavailable, not fatal.
        this.#unavailable.push(id);
      }
    }
    for (const version of await this.store.listContractVersions()) {
      try {
        this.#contracts.set(version.id, { contract: this.source.load(version.source), builtin: false });
      } catch {
        this.#unavailable.push(`${version.id}@${version.version}`);
      }
    }
  }

  get(id: string): Contract | undefined {
    return this.#contracts.get(id)?.contract;
  }

  all(): Contract[] {
    return [...this.#contracts.values()].map((entry) => entry.contract);
  }

  get unavailable(): readonly string[] {
    return this.#unavailable;
  }

  list(): ContractInfo[] {
    return [...this.#contracts.values()]
      .map(({ contract, builtin }) => ({
        id: contract.id,
        version: contract.version,
        name: contract.name ?? null,
        builtin,
        messages: contract.messages ?? [],
      }))
      .sort((a, b) => a.id.localeCompare(b.id));
  }

  /** Identifies a frame's kind with each contract's framing and checksum check. */
  detect(raw: Uint8Array): Contract | undefined {
    return detectContract(raw, this.all());
  }

  /**
   * Validates the document, runs its inline tests and, when all pass, stores it as a new version.
   * Throws PlatformError contract_invalid / contract_tests_failed (with the test report) otherwise.
   */
  async upload(text: string, now: number): Promise<{ contract: ContractInfo; tests: ContractTestReport }> {
    let contract: Contract;
    try {
      contract = this.source.load(text);
    } catch (err) {
      const path = err instanceof ContractError ? err.path : '';
      throw new PlatformError(PlatformErrorCode.ContractInvalid, (err as Error).message, {
        cause: err,
        details: { path },
      });
    }
    const tests = contract.runTests();
    if (tests.failed > 0) {
      throw new PlatformError(
        PlatformErrorCode.ContractTestsFailed,
        `${tests.failed} of ${tests.passed + tests.failed} inline tests failed`,
        { details: tests },
      );
    }
    if (this.#contracts.get(contract.id)?.builtin) {
      throw new PlatformError(
        PlatformErrorCode.Conflict,
        `'${contract.id}' is a built-in contract; choose another id`,
      );
    }
    await this.store.saveContractVersion({
      id: contract.id,
      version: contract.version,
      source: text,
      createdAt: now,
    });
    this.#contracts.set(contract.id, { contract, builtin: false });
    return { contract: this.list().find((c) => c.id === contract.id)!, tests };
  }

  /** Decodes one frame with a named contract ("paste a frame, see the decoded values"). */
  tryFrame(id: string, raw: Uint8Array, context?: Record<string, unknown>): DecodeResult {
    const contract = this.get(id);
    if (!contract) throw new PlatformError(PlatformErrorCode.NotFound, `contract '${id}' not found`);
    return contract.decode(raw, context);
  }
}
