/**
 * CONNECT (MQTT 5.0 §3.1, 3.1.1 §3.1) as an ordered list of named steps (Aedes' connectActions):
 * protocol → client id → will → limits → authentication → session → CONNACK → resume.
 */
import { randomBytes } from 'node:crypto';
import type { IConnackPacket, IConnectPacket } from 'mqtt-packet';
import { ReasonCode } from '../../protocol/reason-codes.ts';
import { isValidTopicName } from '../../protocol/topic.ts';
import type { HandlerContext } from './context.ts';
import { ConnectionState } from '../types.ts';
import { MalformedPacket, ProtocolViolation } from '../errors.ts';
import type { AuthenticateRequest, AuthResult, AuthStep, Message, QoS } from '../types.ts';

export function handleConnect(ch: HandlerContext, p: IConnectPacket): void {
  ch.setProtocolVersion(p.protocolVersion ?? 4);
  if (!checkClientId(ch, p)) return;
  if (!checkWill(ch, p)) return;
  applyClientLimits(ch, p);
  authenticate(ch, p);
}

/** Zero-length client ids: assigned for v5 [MQTT-3.1.3-6] and clean 3.1.1 sessions [MQTT-3.1.3-7], refused otherwise [MQTT-3.1.3-8]. */
function checkClientId(ch: HandlerContext, p: IConnectPacket): boolean {
  const o = ch.engine.options;
  let clientId = p.clientId;
  if (clientId.length === 0) {
    const allowed =
      ch.protocolVersion === 5 ||
      (ch.protocolVersion === 4 && (p.clean !== false || o.allowZeroLengthClientIdPersistent));
    if (!allowed) {
      ch.refuseConnect(ReasonCode.ClientIdentifierNotValid);
      return false;
    }
    clientId = o.assignedClientIdPrefix + randomBytes(9).toString('base64url');
    ch.assignedClientId = true;
  }
  ch.info = { ...ch.info, clientId, username: p.username, protocolVersion: ch.protocolVersion };
  return true;
}

function checkWill(ch: HandlerContext, p: IConnectPacket): boolean {
  const w = p.will;
  if (w === undefined) return true;
  const o = ch.engine.options;
  // [MQTT-3.1.3-11] the will topic is a topic name: no wildcards
  if (!isValidTopicName(w.topic)) throw new MalformedPacket('invalid will topic');
  const qos = (w.qos ?? 0) as QoS;
  if (qos > o.maximumQoS) {
    ch.refuseConnect(ReasonCode.QoSNotSupported); // [MQTT-3.2.2-12]
    return false;
  }
  if (w.retain === true && !o.retainAvailable) {
    ch.refuseConnect(ReasonCode.RetainNotSupported); // [MQTT-3.2.2-13]
    return false;
  }
  const mayPublish = ch.engine.hooks.authorizePublish;
  if (mayPublish !== undefined && !mayPublish(ch.info, w.topic, qos, w.retain === true)) {
    ch.refuseConnect(ReasonCode.NotAuthorized, 'will topic not allowed'); // the will obeys the topic ACL too
    return false;
  }
  const props = w.properties;
  const payload = typeof w.payload === 'string' ? Buffer.from(w.payload) : w.payload;
  const expiry = props?.messageExpiryInterval ?? 0;
  let properties: Message['properties'];
  if (ch.v5 && props !== undefined) {
    const { willDelayInterval: _d, ...rest } = props;
    if (Object.keys(rest).length > 0) properties = rest;
  }
  ch.will = {
    message: {
      topic: w.topic,
      payload,
      qos,
      retain: w.retain === true,
      properties,
      expiresAt: 0,
      origin: ch.clientId,
      publisher: ch.info,
    },
    delay: ch.v5 ? (props?.willDelayInterval ?? 0) : 0,
    // message expiry of a will starts when it is published
    expiryInterval: expiry,
  };
  return true;
}

function applyClientLimits(ch: HandlerContext, p: IConnectPacket): void {
  const props = p.properties;
  if (!ch.v5 || props === undefined) return;
  if (props.receiveMaximum !== undefined) {
    // 0 is a protocol error (MQTT 5 §3.1.2.11.3)
    if (props.receiveMaximum === 0)
      throw new ProtocolViolation(ReasonCode.ProtocolError, 'receive maximum 0');
    ch.sendQuota = Math.min(props.receiveMaximum, ch.engine.options.maxInflightOutgoing);
  }
  if (props.maximumPacketSize !== undefined) {
    if (props.maximumPacketSize === 0)
      throw new ProtocolViolation(ReasonCode.ProtocolError, 'maximum packet size 0');
    ch.clientMaxPacketSize = props.maximumPacketSize;
  }
  if (props.requestProblemInformation === false) ch.problemInformation = false;
  if (props.topicAliasMaximum !== undefined && ch.engine.options.outboundTopicAliases) {
    ch.clientTopicAliasMax = props.topicAliasMaximum;
  }
}

function authRequest(ch: HandlerContext, p: IConnectPacket, data: Buffer | undefined): AuthenticateRequest {
  return {
    ...ch.info,
    password: p.password,
    authenticationMethod: p.properties?.authenticationMethod,
    authenticationData: data,
  };
}

function authenticate(ch: HandlerContext, p: IConnectPacket): void {
  const hooks = ch.engine.hooks;
  const method = ch.v5 ? p.properties?.authenticationMethod : undefined;
  if (method !== undefined) {
    if (hooks.extendedAuth === undefined) {
      ch.refuseConnect(ReasonCode.BadAuthenticationMethod);
      return;
    }
    ch.authMethod = method;
    ch.state = ConnectionState.Authenticating;
    ch.connectPacket = p;
    runAuthStep(ch, p.properties?.authenticationData);
    return;
  }
  if (hooks.authenticate === undefined) {
    finishConnect(ch, p, undefined);
    return;
  }
  let result: AuthResult | Promise<AuthResult>;
  try {
    result = hooks.authenticate(authRequest(ch, p, undefined));
  } catch (err) {
    ch.engine.logger.error({ err }, 'authenticate hook threw');
    ch.refuseConnect(ReasonCode.ServerUnavailable);
    return;
  }
  if (result instanceof Promise) {
    ch.state = ConnectionState.Authenticating;
    ch.pending = [];
    result.then(
      (r) => afterAuth(ch, p, r),
      (err: unknown) => {
        ch.engine.logger.error({ err }, 'authenticate hook failed');
        if (ch.state !== ConnectionState.Closed) ch.refuseConnect(ReasonCode.ServerUnavailable);
      },
    );
    return;
  }
  afterAuth(ch, p, result);
}

function afterAuth(ch: HandlerContext, p: IConnectPacket, r: AuthResult): void {
  if (ch.state === ConnectionState.Closed) return;
  if (r === true) {
    finishConnect(ch, p, undefined);
    return;
  }
  if (r === false) ch.refuseConnect(ReasonCode.NotAuthorized);
  else ch.refuseConnect(r.reasonCode, r.reasonString);
}

/** One step of enhanced authentication (§4.12): continue with AUTH 0x18, or finish with CONNACK. */
export function runAuthStep(ch: HandlerContext, data: Buffer | undefined): void {
  const p = ch.connectPacket as IConnectPacket | undefined;
  const hook = ch.engine.hooks.extendedAuth;
  if (p === undefined || hook === undefined)
    throw new ProtocolViolation(ReasonCode.ProtocolError, 'unexpected AUTH');
  const step = ch.authStep++;
  const done = (s: AuthStep): void => {
    if (ch.state === ConnectionState.Closed) return;
    if ('reasonCode' in s) {
      ch.refuseConnect(s.reasonCode, s.reasonString);
    } else if (s.done) {
      ch.connectPacket = undefined;
      finishConnect(ch, p, s.authenticationData);
    } else {
      const props: Record<string, unknown> = { authenticationMethod: ch.authMethod };
      if (s.authenticationData !== undefined) props.authenticationData = s.authenticationData;
      ch.send({ cmd: 'auth', reasonCode: ReasonCode.ContinueAuthentication, properties: props });
    }
  };
  try {
    const r = hook(authRequest(ch, p, data), step);
    if (r instanceof Promise) r.then(done, () => done({ reasonCode: ReasonCode.NotAuthorized }));
    else done(r);
  } catch {
    done({ reasonCode: ReasonCode.NotAuthorized });
  }
}

function sessionExpiryOf(ch: HandlerContext, p: IConnectPacket): number {
  const o = ch.engine.options;
  if (ch.v5) return Math.min(p.properties?.sessionExpiryInterval ?? 0, o.maxSessionExpiry);
  return p.clean === false ? o.v3SessionExpiry : 0;
}

function finishConnect(ch: HandlerContext, p: IConnectPacket, authData: Buffer | undefined): void {
  const engine = ch.engine;
  const o = engine.options;
  const cleanStart = p.clean !== false;
  const requestedExpiry = ch.v5 ? (p.properties?.sessionExpiryInterval ?? 0) : 0;
  const expiry = sessionExpiryOf(ch, p);
  // [MQTT-5.4.2] only the identity that owns a client id's session may resume or take it over
  const admission = engine.admit(ch);
  if (!admission.ok) {
    ch.refuseConnect(admission.reasonCode, admission.reasonString);
    return;
  }
  const { session, present } = engine.attach(ch, cleanStart || admission.reclaim, expiry);
  ch.session = session;
  ch.state = ConnectionState.Connected;

  const connack: IConnackPacket = { cmd: 'connack', sessionPresent: present };
  let keepAlive = p.keepalive ?? 0;
  if (ch.v5) {
    connack.reasonCode = ReasonCode.Success;
    const props: NonNullable<IConnackPacket['properties']> = {};
    if (expiry !== requestedExpiry) props.sessionExpiryInterval = expiry;
    if (o.receiveMaximum !== 65535) props.receiveMaximum = o.receiveMaximum;
    if (o.maximumQoS < 2) props.maximumQoS = o.maximumQoS;
    if (!o.retainAvailable) props.retainAvailable = false;
    if (o.maximumPacketSize < 268_435_455) props.maximumPacketSize = o.maximumPacketSize;
    if (ch.assignedClientId) props.assignedClientIdentifier = ch.clientId;
    if (o.topicAliasMaximum > 0) props.topicAliasMaximum = o.topicAliasMaximum;
    if (!o.wildcardSubscriptionAvailable) props.wildcardSubscriptionAvailable = false;
    if (!o.subscriptionIdentifiersAvailable) props.subscriptionIdentifiersAvailable = false;
    if (!o.sharedSubscriptionAvailable) props.sharedSubscriptionAvailable = false;
    if (o.maxKeepAlive > 0 && (keepAlive === 0 || keepAlive > o.maxKeepAlive)) {
      keepAlive = o.maxKeepAlive; // [MQTT-3.2.2-21] the client must use the server's value
      props.serverKeepAlive = keepAlive;
    }
    if (p.properties?.requestResponseInformation === true && o.responseInformation !== '') {
      props.responseInformation = o.responseInformation;
    }
    if (ch.authMethod !== undefined) {
      props.authenticationMethod = ch.authMethod;
      if (authData !== undefined) props.authenticationData = authData;
    }
    if (Object.keys(props).length > 0) connack.properties = props;
  } else {
    connack.returnCode = 0;
  }
  ch.send(connack);
  ch.startKeepAlive(keepAlive);
  engine.connected(ch);
  session.resume(ch);

  const pending = ch.pending;
  ch.pending = undefined;
  if (pending !== undefined) for (const packet of pending) ch.handlePacket(packet);
}
