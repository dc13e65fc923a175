/**
 * The `Message` union (protocol.md §2): the crate's enum in the bincode-1 default layout.
 * Tag u32 LE; String and Vec<u8> = u64 LE length ‖ bytes; fixed arrays raw; u64 LE.
 */

export const MESSAGE_TAGS = {
  Ping: 0,
  Pong: 1,
  SecureHandshakeInit: 2,
  SecureHandshakeResponse: 3,
  SecureHandshakeConfirm: 4,
  Echo: 5,
  Disconnect: 6,
  Custom: 7,
  Unknown: 8,
  Request: 9,
  Response: 10,
  Failure: 11,
  Cancel: 12,
  GoAway: 13,
} as const;

export type MessageType = keyof typeof MESSAGE_TAGS;

export type Message =
  | { type: 'Ping' }
  | { type: 'Pong' }
  /** pub_key[32] · timestamp u64 (Unix ms) · nonce[16] */
  | { type: 'SecureHandshakeInit'; pubKey: Uint8Array; timestamp: bigint; nonce: Uint8Array }
  /** pub_key[32] · nonce[16] · nonce_verification[32] */
  | { type: 'SecureHandshakeResponse'; pubKey: Uint8Array; nonce: Uint8Array; nonceVerification: Uint8Array }
  /** nonce_verification[32] */
  | { type: 'SecureHandshakeConfirm'; nonceVerification: Uint8Array }
  | { type: 'Echo'; text: string }
  | { type: 'Disconnect' }
  | { type: 'Custom'; command: string; payload: Uint8Array }
  | { type: 'Unknown' }
  /** v2: id ≤ 2^53 − 1 */
  | { type: 'Request'; id: number; command: string; payload: Uint8Array }
  | { type: 'Response'; id: number; payload: Uint8Array }
  | { type: 'Failure'; id: number; code: string; message: string }
  | { type: 'Cancel'; id: number }
  | { type: 'GoAway'; lastId: number; reason: string };

export type MessageOf<T extends MessageType> = Extract<Message, { type: T }>;
