/**
 * Record bodies laid out in pieces (protocol.md §4): the entries of a record whose large message
 * payloads stay in the caller's buffers. The sealer encrypts the pieces in order with one cipher, so
 * the bytes on the wire are exactly those of the contiguous body, without copying a large payload
 * behind the bytes before it.
 */
import { NproError } from '../core/errors.js';
import type { Message } from '../core/message.js';
import { encodeMessageHeadInto, encodeMessageInto, endsWithPayload, type PayloadMessage } from '../core/message-codec.js';
import { HEADER_SIZE } from '../core/frame.js';
import { ENTRY_HEADER_SIZE, writeEntryLength } from './record-body.js';

/** Payloads of at least this many bytes are sealed from the caller's buffer instead of being copied. */
export const LARGE_PAYLOAD = 8192;

function isLarge(m: Message): m is PayloadMessage {
  return endsWithPayload(m) && m.payload.length >= LARGE_PAYLOAD;
}

/** True when one of `messages[start … end)` has a payload worth sealing in place. */
export function hasLargePayload(messages: readonly Message[], start: number, end: number): boolean {
  for (let i = start; i < end; i++) if (isLarge(messages[i]!)) return true;
  return false;
}

export interface BodyPieces {
  /** Room for the 9-byte frame header, then the flags byte and every byte that is not a large payload. */
  own: Uint8Array;
  /** The record plaintext (`flags ‖ body`) in order: views of `own` and the large payloads themselves. */
  pieces: Uint8Array[];
}

/**
 * The plaintext of the record holding `messages[start … end)` (`lengths[i]` = their encoded lengths)
 * as pieces; the flags byte (`own[9]`) is left for the caller.
 */
export function bodyPieces(messages: readonly Message[], lengths: readonly number[], start: number, end: number): BodyPieces {
  let ownLength = HEADER_SIZE + 1;
  for (let i = start; i < end; i++) {
    const m = messages[i]!;
    ownLength += ENTRY_HEADER_SIZE + (isLarge(m) ? lengths[i]! - m.payload.length : lengths[i]!);
  }
  const b = Buffer.allocUnsafe(ownLength);
  const own = new Uint8Array(b.buffer, b.byteOffset, ownLength);
  const pieces: Uint8Array[] = [];
  let pieceStart = HEADER_SIZE;
  let o = HEADER_SIZE + 1;
  for (let i = start; i < end; i++) {
    const m = messages[i]!;
    const n = lengths[i]!;
    writeEntryLength(own, o, n);
    const at = o + ENTRY_HEADER_SIZE;
    if (isLarge(m)) {
      o = encodeMessageHeadInto(m, own, at);
      if (o - at + m.payload.length !== n) throw new NproError('INVALID_STATE', `message ${i} encoded to a different length than sized`);
      pieces.push(own.subarray(pieceStart, o), m.payload);
      pieceStart = o;
    } else {
      o = encodeMessageInto(m, own, at);
      if (o - at !== n) throw new NproError('INVALID_STATE', `message ${i} encoded to ${o - at} bytes, sized as ${n}`);
    }
  }
  if (o > pieceStart) pieces.push(own.subarray(pieceStart, o));
  return { own, pieces };
}
