/** Named errors of the access module (nats.js style: one class per failure kind, with `cause`). */

/** A bad access configuration: names the field (and the file when there is one). */
export class AccessConfigError extends Error {
  readonly field: string;
  constructor(field: string, message: string, options?: { cause?: unknown }) {
    super(`${field}: ${message}`, options);
    this.name = 'AccessConfigError';
    this.field = field;
  }
}

/** An upstream broker link failed (connect refused, timed out, protocol error). */
export class UpstreamError extends Error {
  readonly upstream: string;
  constructor(upstream: string, message: string, options?: { cause?: unknown }) {
    super(`${upstream}: ${message}`, options);
    this.name = 'UpstreamError';
    this.upstream = upstream;
  }
}

/** The client spoke MQTT the module cannot carry (malformed packet, topic alias, protocol order). */
export class ClientProtocolError extends Error {
  readonly reasonCode: number;
  constructor(message: string, reasonCode: number, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ClientProtocolError';
    this.reasonCode = reasonCode;
  }
}
