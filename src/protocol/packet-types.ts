/**
 * MQTT control packet types (MQTT 5.0 §2.1.2, the same numbers in 3.1.1) and the first bytes of
 * the fixed headers that code writes or recognises as raw bytes on its hot paths.
 */

/** The packet type: the high four bits of the first byte. */
export const PacketType = {
  Connect: 1,
  Connack: 2,
  Publish: 3,
  Puback: 4,
  Pubrec: 5,
  Pubrel: 6,
  Pubcomp: 7,
  Subscribe: 8,
  Suback: 9,
  Unsubscribe: 10,
  Unsuback: 11,
  Pingreq: 12,
  Pingresp: 13,
  Disconnect: 14,
  Auth: 15,
} as const;
export type PacketType = (typeof PacketType)[keyof typeof PacketType];

/**
 * Complete first bytes (type and flags). PUBREL, SUBSCRIBE and UNSUBSCRIBE must carry flags 0010
 * [MQTT-3.6.1-1], [MQTT-3.8.1-1], [MQTT-3.10.1-1]; the others here carry 0000. A PUBLISH's flags vary
 * (DUP, QoS, RETAIN): compare its type with `packetTypeOf`.
 */
export const FixedHeader = {
  Puback: PacketType.Puback << 4, // 0x40
  Pubrec: PacketType.Pubrec << 4, // 0x50
  Pubrel: (PacketType.Pubrel << 4) | 0x02, // 0x62
  Pubcomp: PacketType.Pubcomp << 4, // 0x70
  Pingreq: PacketType.Pingreq << 4, // 0xC0
  Pingresp: PacketType.Pingresp << 4, // 0xD0
} as const;
export type FixedHeader = (typeof FixedHeader)[keyof typeof FixedHeader];

/** The packet type of a first byte. */
export function packetTypeOf(firstByte: number): number {
  return firstByte >> 4;
}
