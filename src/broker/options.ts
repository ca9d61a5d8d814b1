/**
 * Broker options: one typed schema with defaults, validated once and frozen.
 * The config loader (src/broker/server, broker-ops) maps the YAML file onto `Partial<BrokerOptions>`.
 */
export interface BrokerOptions {
  /** Server keep alive cap in seconds; a client asking for more (or 0) gets this in CONNACK (v5). 0 = no cap. */
  maxKeepAlive: number;
  /** How many incoming QoS 1/2 PUBLISHes a client may have unacknowledged (v5 Receive Maximum, 1..65535). */
  receiveMaximum: number;
  /** Largest packet the broker accepts, bytes (v5 Maximum Packet Size; larger is 0x95). */
  maximumPacketSize: number;
  /** Topic aliases a client may use towards the broker (0 = none). */
  topicAliasMaximum: number;
  /** Highest QoS the broker grants (0, 1 or 2). */
  maximumQoS: 0 | 1 | 2;
  retainAvailable: boolean;
  wildcardSubscriptionAvailable: boolean;
  sharedSubscriptionAvailable: boolean;
  subscriptionIdentifiersAvailable: boolean;
  /** Cap on a client's session expiry interval, seconds (0xFFFFFFFF = never expires). */
  maxSessionExpiry: number;
  /** Session expiry for MQTT 3.1/3.1.1 clients with clean session 0, seconds (0xFFFFFFFF = never). */
  v3SessionExpiry: number;
  /** Topic filters refused with 0x80 (Unspecified error) on SUBSCRIBE, matched exactly. */
  denySubscribe: readonly string[];
  /** Use outbound topic aliases towards v5 clients that allow them. */
  outboundTopicAliases: boolean;
  /** Upper bound for unacknowledged outgoing QoS 1/2 messages per client (also caps v5 Receive Maximum). */
  maxInflightOutgoing: number;
  /** Messages queued per session beyond the in-flight window (offline or slow clients); more are dropped. */
  maxQueuedMessages: number;
  /**
   * Queue QoS 0 messages for offline persistent sessions too (Mosquitto's queue_qos0_messages), under
   * the same per-session and global limits; sent once, without acknowledgement, when the client is
   * back. Off: QoS 0 reaches only connected clients.
   */
  queueQos0Messages: boolean;
  /**
   * Bytes (payload + topic) queued per session beyond the in-flight window; a QoS 1/2 message that
   * would pass it is dropped for that session (docs/broker.md "Memory bounds").
   */
  maxQueuedBytes: number;
  /**
   * Bytes of sent but unacknowledged QoS 1/2 messages per session: the in-flight window is bounded by
   * this as well as by maxInflightOutgoing (one message is always allowed, however large).
   */
  maxInflightBytes: number;
  /**
   * Budget for all sessions together: bytes queued plus in flight. While it is used up, new QoS 1/2
   * messages are taken by no session (dropped, counted; a v5 publisher whose message no subscriber
   * took gets PUBACK/PUBREC 0x97). 0 = no global budget.
   */
  maxQueuedBytesTotal: number;
  /**
   * How long, ms, a connected subscriber whose queue is past its high-water mark may hold back the
   * clients that publish to it. After that they go free and that subscriber's queue grows to
   * maxQueuedMessages, then drops (as Mosquitto and EMQX do), so one stuck client cannot stall the
   * others. 0 = hold as long as it takes.
   */
  slowSubscriberHoldMs: number;
  /** Bytes buffered towards one socket above which QoS 0 messages to it are dropped. */
  maxSocketBuffer: number;
  /** Time a new connection has to send CONNECT, ms. */
  connectTimeout: number;
  /** Sent as Response Information when a v5 client requests it; '' = don't offer. */
  responseInformation: string;
  /** Prefix of assigned client identifiers. */
  assignedClientIdPrefix: string;
  /** Accept zero-length client ids from v3.1.1 clients with clean session 0? (spec: refuse) */
  allowZeroLengthClientIdPersistent: boolean;
}

export const DEFAULT_BROKER_OPTIONS: Readonly<BrokerOptions> = Object.freeze({
  maxKeepAlive: 0,
  receiveMaximum: 1024,
  maximumPacketSize: 268_435_455,
  topicAliasMaximum: 65535,
  maximumQoS: 2,
  retainAvailable: true,
  wildcardSubscriptionAvailable: true,
  sharedSubscriptionAvailable: true,
  subscriptionIdentifiersAvailable: true,
  maxSessionExpiry: 0xffffffff,
  v3SessionExpiry: 0xffffffff,
  denySubscribe: [],
  outboundTopicAliases: true,
  maxInflightOutgoing: 1024,
  maxQueuedMessages: 100_000,
  queueQos0Messages: false,
  maxQueuedBytes: 16 * 1024 * 1024,
  maxInflightBytes: 4 * 1024 * 1024,
  maxQueuedBytesTotal: 256 * 1024 * 1024,
  slowSubscriberHoldMs: 5000,
  maxSocketBuffer: 8 * 1024 * 1024,
  connectTimeout: 10_000,
  responseInformation: '',
  assignedClientIdPrefix: 'mqiot-',
  allowZeroLengthClientIdPersistent: false,
} satisfies BrokerOptions);

export class BrokerOptionsError extends Error {
  override readonly name = 'BrokerOptionsError';
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`broker option ${field}: ${message}`);
  }
}

function intIn(o: BrokerOptions, field: keyof BrokerOptions, min: number, max: number): void {
  const v = o[field];
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new BrokerOptionsError(field, `must be an integer in ${min}..${max}, got ${String(v)}`);
  }
}

function bool(o: BrokerOptions, field: keyof BrokerOptions): void {
  if (typeof o[field] !== 'boolean') throw new BrokerOptionsError(field, 'must be true or false');
}

/** Merges defaults, validates every field, freezes. Throws BrokerOptionsError naming the field. */
export function parseBrokerOptions(input: Partial<BrokerOptions> = {}): Readonly<BrokerOptions> {
  for (const key of Object.keys(input)) {
    if (!(key in DEFAULT_BROKER_OPTIONS)) throw new BrokerOptionsError(key, 'unknown option');
  }
  const o: BrokerOptions = { ...DEFAULT_BROKER_OPTIONS, ...input } as BrokerOptions;
  intIn(o, 'maxKeepAlive', 0, 65535);
  intIn(o, 'receiveMaximum', 1, 65535);
  intIn(o, 'maximumPacketSize', 64, 268_435_460);
  intIn(o, 'topicAliasMaximum', 0, 65535);
  intIn(o, 'maximumQoS', 0, 2);
  intIn(o, 'maxSessionExpiry', 0, 0xffffffff);
  intIn(o, 'v3SessionExpiry', 0, 0xffffffff);
  intIn(o, 'maxInflightOutgoing', 1, 65535);
  intIn(o, 'maxQueuedMessages', 0, 100_000_000);
  intIn(o, 'maxQueuedBytes', 1024, 2 ** 40);
  intIn(o, 'maxInflightBytes', 1024, 2 ** 40);
  intIn(o, 'maxQueuedBytesTotal', 0, 2 ** 44);
  intIn(o, 'slowSubscriberHoldMs', 0, 3_600_000);
  intIn(o, 'maxSocketBuffer', 1024, 2 ** 31);
  intIn(o, 'connectTimeout', 1, 3_600_000);
  for (const f of [
    'retainAvailable',
    'wildcardSubscriptionAvailable',
    'sharedSubscriptionAvailable',
    'subscriptionIdentifiersAvailable',
    'outboundTopicAliases',
    'allowZeroLengthClientIdPersistent',
    'queueQos0Messages',
  ] as const) {
    bool(o, f);
  }
  if (!Array.isArray(o.denySubscribe) || o.denySubscribe.some((s) => typeof s !== 'string')) {
    throw new BrokerOptionsError('denySubscribe', 'must be a list of topic filters');
  }
  if (typeof o.responseInformation !== 'string') {
    throw new BrokerOptionsError('responseInformation', 'must be a string');
  }
  if (typeof o.assignedClientIdPrefix !== 'string') {
    throw new BrokerOptionsError('assignedClientIdPrefix', 'must be a string');
  }
  return Object.freeze({ ...o, denySubscribe: Object.freeze([...o.denySubscribe]) });
}
