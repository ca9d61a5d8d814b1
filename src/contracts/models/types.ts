// Public shapes of device models (docs/device-models.md): what a model names, converts and recognises.
// A contract says how a protocol's frames decode; a model says what one kind of device's values mean.

/** How a model point turns its source values into one value. */
export type ModelPointType = 'u16' | 'i16' | 'u32' | 'i32' | 'f32' | 'bool' | 'number' | 'string';

export interface ModelPoint {
  /** The name the point gets (stored, shown, used by rules). */
  name: string;
  /** The decoded points it is made from: one name, or two 16-bit registers for a 32-bit value. */
  from: readonly string[];
  type: ModelPointType;
  /** Word order of a 32-bit value: ABCD (high word first, the default) or CDAB. */
  words: 'ABCD' | 'CDAB';
  scale: number;
  offset: number;
  unit?: string;
  description?: string;
}

export interface ModelCommand {
  name: string;
  description?: string;
  /** The contract message the gateway encodes (e.g. 'write-single-coil'). */
  message: string;
  /** Fixed parameters; the caller's parameters are laid over them. */
  params: Record<string, unknown>;
}

/** What recognises the model from a device's decoded frames; every entry is one clue. */
export interface ModelSignature {
  /** Regular expression the frames' `address` field must match (DL/T 645 meter addresses). */
  address?: RegExp;
  /** DL/T 645 data identifiers (the `di` field) the device answers. */
  dis: readonly string[];
  /** Points (raw or the model's own names) that must be present, optionally within a range. */
  points: readonly { name: string; min?: number; max?: number }[];
  /** Decoded fields that must hold exactly these values (e.g. a version byte, a unit id). */
  fields: Readonly<Record<string, string | number | boolean>>;
}

export interface ModelTest {
  name: string;
  contract: string;
  hex: string;
  context?: Record<string, unknown>;
  /** Named points (value, or { value, unit }) the frame must give through the model. */
  points: Record<string, unknown>;
}

export interface DeviceModel {
  readonly id: string;
  readonly version: string;
  readonly name?: string;
  readonly manufacturer?: string;
  readonly description?: string;
  /** Contracts whose frames the model reads; the first is the one a gateway polls it with. */
  readonly contracts: readonly string[];
  readonly points: readonly ModelPoint[];
  readonly commands: readonly ModelCommand[];
  readonly identify: ModelSignature;
  readonly tests: readonly ModelTest[];
  /** The document's text, as given (the catalog hash is taken over it). */
  readonly source: string;
}
