// The device models the platform knows: the built-in ones plus uploaded versions (kept in the store,
// the newest version per id wins), as contracts are kept. An upload is checked, its commands must name
// messages of its contracts and its inline tests must pass before it is accepted.
import { ContractError } from '../../contracts/index.ts';
import type { ContractTestReport, DecodeResult, Point } from '../../contracts/index.ts';
import {
  addEvidence,
  applyModel,
  builtinModel,
  catalogHash,
  checkModelCommands,
  listBuiltinModels,
  loadModel,
  newEvidence,
  runModelTests,
  scoreModel,
  type DeviceModel,
  type ModelScore,
} from '../../contracts/models/index.ts';
import type { ContractRegistry } from '../contract-registry.ts';
import { PlatformError, PlatformErrorCode } from '../errors.ts';
import type { PlatformStore } from '../store/types.ts';

export interface ModelInfo {
  id: string;
  version: string;
  name: string | null;
  manufacturer: string | null;
  builtin: boolean;
  contracts: readonly string[];
  points: { name: string; from: readonly string[]; unit: string | null }[];
  commands: { name: string; message: string; description: string | null }[];
  hash: string;
}

/** What "try a frame" answers: the contract's decoding, the model's points and how well each model fits. */
export interface ModelTryResult {
  contract: string;
  decoded: DecodeResult;
  points: Point[];
  scores: ModelScore[];
}

export class ModelRegistry {
  readonly #models = new Map<string, { model: DeviceModel; builtin: boolean }>();
  readonly #unavailable: string[] = [];

  constructor(
    private readonly store: PlatformStore,
    private readonly contracts: ContractRegistry,
  ) {}

  /** Loads the built-ins, then every stored version (later versions replace earlier ones). */
  async load(): Promise<void> {
    for (const id of listBuiltinModels()) {
      try {
        this.#models.set(id, { model: builtinModel(id), builtin: true });
      } catch {
        this.#unavailable.push(id);
      }
    }
    for (const version of await this.store.listModelVersions()) {
      try {
        this.#models.set(version.id, { model: loadModel(version.source), builtin: false });
      } catch {
        this.#unavailable.push(`${version.id}@${version.version}`);
      }
    }
  }

  get(id: string): DeviceModel | undefined {
    return this.#models.get(id)?.model;
  }

  all(): DeviceModel[] {
    return [...this.#models.values()].map((entry) => entry.model);
  }

  get unavailable(): readonly string[] {
    return this.#unavailable;
  }

  list(): ModelInfo[] {
    return [...this.#models.values()]
      .map(({ model, builtin }) => info(model, builtin))
      .sort((a, b) => a.id.localeCompare(b.id));
  }

  info(id: string): (ModelInfo & { source: string }) | undefined {
    const entry = this.#models.get(id);
    return entry && { ...info(entry.model, entry.builtin), source: entry.model.source };
  }

  /** Parses and checks a document, runs its tests; throws PlatformError model_invalid / model_tests_failed. */
  check(text: string): { model: DeviceModel; tests: ContractTestReport } {
    let model: DeviceModel;
    try {
      model = loadModel(text);
    } catch (err) {
      const path = err instanceof ContractError ? err.path : '';
      throw new PlatformError(PlatformErrorCode.ModelInvalid, (err as Error).message, {
        cause: err,
        details: { path },
      });
    }
    const contractOf = (id: string) => this.contracts.get(id);
    const problems = checkModelCommands(model, contractOf);
    const unknown = model.contracts.filter((id) => !contractOf(id));
    if (unknown.length > 0) problems.unshift(`contracts: unknown contract '${unknown.join("', '")}'`);
    if (problems.length > 0) {
      throw new PlatformError(PlatformErrorCode.ModelInvalid, problems[0]!, {
        details: { path: problems[0]!.split(':')[0], problems },
      });
    }
    const tests = runModelTests(model, contractOf);
    if (tests.failed > 0) {
      throw new PlatformError(
        PlatformErrorCode.ModelTestsFailed,
        `${tests.failed} of ${tests.passed + tests.failed} inline tests failed`,
        { details: tests },
      );
    }
    return { model, tests };
  }

  /** Stores a checked document as a new version; a built-in id cannot be replaced. */
  async upload(text: string, now: number): Promise<{ model: ModelInfo; tests: ContractTestReport }> {
    const { model, tests } = this.check(text);
    if (this.#models.get(model.id)?.builtin) {
      throw new PlatformError(
        PlatformErrorCode.Conflict,
        `'${model.id}' is a built-in model; choose another id`,
      );
    }
    await this.store.saveModelVersion({ id: model.id, version: model.version, source: text, createdAt: now });
    this.#models.set(model.id, { model, builtin: false });
    return { model: info(model, false), tests };
  }

  /**
   * Decodes one frame with a contract (the given one, else the model's first, else detection) and
   * passes it through the model (a stored one by id, or an unsaved document being edited).
   */
  tryFrame(input: {
    raw: Uint8Array;
    contract?: string;
    model?: string;
    source?: string;
    context?: Record<string, unknown>;
  }): ModelTryResult {
    let model: DeviceModel | undefined;
    if (input.source !== undefined) model = this.check(input.source).model;
    else if (input.model !== undefined) {
      model = this.get(input.model);
      if (!model) throw new PlatformError(PlatformErrorCode.NotFound, `model '${input.model}' not found`);
    }
    const contractId =
      input.contract ?? model?.contracts[0] ?? this.contracts.detect(Uint8Array.from(input.raw))?.id;
    const contract = contractId ? this.contracts.get(contractId) : undefined;
    if (!contract) {
      throw new PlatformError(
        PlatformErrorCode.NotFound,
        contractId ? `contract '${contractId}' not found` : 'no contract given and none recognises the frame',
      );
    }
    const decoded = contract.decode(Uint8Array.from(input.raw), input.context);
    const raw = decoded.ok ? decoded.points : [];
    const evidence = newEvidence();
    if (decoded.ok) addEvidence(evidence, contract.id, decoded.fields, raw);
    const candidates = model ? [model] : this.all();
    const scores = candidates
      .map((m) => scoreModel(m, evidence))
      .filter((s) => s.confidence > 0)
      .sort((a, b) => b.confidence - a.confidence);
    const best = model ?? (scores[0] ? this.get(scores[0].model) : undefined);
    return { contract: contract.id, decoded, points: best ? applyModel(best, raw) : raw, scores };
  }
}

function info(model: DeviceModel, builtin: boolean): ModelInfo {
  return {
    id: model.id,
    version: model.version,
    name: model.name ?? null,
    manufacturer: model.manufacturer ?? null,
    builtin,
    contracts: model.contracts,
    points: model.points.map((p) => ({ name: p.name, from: p.from, unit: p.unit ?? null })),
    commands: model.commands.map((c) => ({
      name: c.name,
      message: c.message,
      description: c.description ?? null,
    })),
    hash: catalogHash(model.source),
  };
}
