/**
 * Packet identifiers of one direction of one link, mapped to what they stand for. Identifiers are
 * handed out round-robin from 1..65535 so a late acknowledgement of an old id cannot hit a fresh
 * message at once [MQTT-2.2.1-3].
 */
export class PacketIdMap<T> {
  private readonly used = new Map<number, T>();
  private cursor = 0;

  /** @param limit most ids bound at once; ids come from firstId..lastId */
  constructor(
    readonly limit = 65535,
    private readonly firstId = 1,
    private readonly lastId = 65535,
  ) {
    this.cursor = lastId;
  }

  get size(): number {
    return this.used.size;
  }

  /** A free identifier now bound to `value`, or 0 when all are in use. */
  assign(value: T): number {
    if (this.used.size >= this.limit) return 0;
    for (let n = this.firstId; n <= this.lastId; n++) {
      this.cursor = this.cursor >= this.lastId ? this.firstId : this.cursor + 1;
      if (!this.used.has(this.cursor)) {
        this.used.set(this.cursor, value);
        return this.cursor;
      }
    }
    return 0;
  }

  /** Binds a given identifier (ids chosen by the peer). */
  set(id: number, value: T): void {
    this.used.set(id, value);
  }

  get(id: number): T | undefined {
    return this.used.get(id);
  }

  release(id: number): T | undefined {
    const value = this.used.get(id);
    if (value !== undefined) this.used.delete(id);
    return value;
  }

  entries(): IterableIterator<[number, T]> {
    return this.used.entries();
  }

  values(): IterableIterator<T> {
    return this.used.values();
  }

  clear(): void {
    this.used.clear();
  }
}
