// `mqiot sim`'s vocabulary: the simulators' description, faults and push formats, and their start.
export {
  FAULT_MODES,
  startSimulators,
  type FaultMode,
  type FaultSpec,
  type SimSpec,
  type UnitSpec,
} from '../../sim/index.ts';
export { PushFormat } from '../../sim/push-sensor.ts';
