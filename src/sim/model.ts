// Readings that change the way real ones do: energy only grows, voltage wanders around its nominal value,
// temperature follows the time of day. Pure functions of the clock and a seeded random source, so tests
// can drive them.

import { systemClock, type Clock } from '../protocol/clock.ts';
export { systemClock, type Clock };

/** Small deterministic PRNG (mulberry32) so a seeded simulator repeats itself. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface MeterReadings {
  /** kWh, never decreases. */
  energyKwh: number;
  /** Reverse (exported) energy, kWh. */
  reverseEnergyKwh: number;
  voltage: [number, number, number];
  current: [number, number, number];
  /** Total active power, kW. */
  powerKw: number;
  powerFactor: number;
  frequencyHz: number;
  temperatureC: number;
  relayOn: boolean;
}

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** One simulated electricity meter (or sensor) whose state advances with the clock. */
export class MeterModel {
  private readonly random: () => number;
  private last: number;
  private readonly state: MeterReadings;

  constructor(
    private readonly clock: Clock = systemClock,
    seed = 1,
    initialEnergyKwh = 1000,
  ) {
    this.random = seededRandom(seed);
    this.last = clock.now();
    this.state = {
      energyKwh: initialEnergyKwh,
      reverseEnergyKwh: 0,
      voltage: [230, 230, 230],
      current: [5, 5, 5],
      powerKw: 3.45,
      powerFactor: 0.95,
      frequencyHz: 50,
      temperatureC: 20,
      relayOn: true,
    };
  }

  setRelay(on: boolean): void {
    this.read();
    this.state.relayOn = on;
  }

  /** Advances the model to the clock's now and returns a copy of the readings. */
  read(): MeterReadings {
    const now = this.clock.now();
    const dtMs = Math.max(0, now - this.last);
    this.last = now;
    const s = this.state;
    const steps = Math.min(10, Math.ceil(dtMs / 1000)); // a bounded number of random-walk steps
    for (let i = 0; i < steps; i++) {
      // voltage: mean-reverting random walk around 230 V, kept within ±10 %
      s.voltage = s.voltage.map((v) =>
        clamp(v + (230 - v) * 0.1 + (this.random() - 0.5) * 1.2, 207, 253),
      ) as [number, number, number];
      s.frequencyHz = clamp(
        s.frequencyHz + (50 - s.frequencyHz) * 0.2 + (this.random() - 0.5) * 0.02,
        49.8,
        50.2,
      );
      s.powerFactor = clamp(s.powerFactor + (this.random() - 0.5) * 0.01, 0.85, 0.99);
    }
    // load follows the day (more in the evening), zero when the relay is open
    const hour = (now % DAY) / HOUR;
    const load = s.relayOn ? 4 + 3 * Math.sin(((hour - 12) / 24) * 2 * Math.PI) + this.random() : 0;
    s.current = s.voltage.map((v) => (s.relayOn ? (load * 1000) / 3 / v : 0)) as [number, number, number];
    s.powerKw = s.relayOn
      ? (s.voltage.reduce((sum, v, i) => sum + v * s.current[i]!, 0) * s.powerFactor) / 1000
      : 0;
    s.energyKwh += (s.powerKw * dtMs) / HOUR; // energy only grows
    s.temperatureC = 20 + 5 * Math.sin(((hour - 9) / 24) * 2 * Math.PI) + (this.random() - 0.5) * 0.2;
    return { ...s, voltage: [...s.voltage], current: [...s.current] };
  }
}

function clamp(v: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, v));
}
