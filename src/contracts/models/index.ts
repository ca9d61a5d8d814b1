// Device models: what one kind of device's decoded values mean and how to recognise it (docs/device-models.md).
export type * from './types.ts';
export { loadModel } from './load.ts';
export { applyModel } from './apply.ts';
export {
  addEvidence,
  identifyModel,
  newEvidence,
  scoreModel,
  type Evidence,
  type ModelScore,
} from './identify.ts';
export { checkModelCommands, runModelTests } from './tests.ts';
export { catalogHash, type CatalogEntry, type CatalogKind } from './catalog.ts';
export { builtinModel, builtinModelSource, listBuiltinModels } from './builtin.ts';
