/**
 * ChaCha20-Poly1305 (RFC 8439 §2.8) over a plaintext given in pieces: the record layer seals a large
 * message payload straight from the caller's buffer, without first copying it behind the record's
 * other bytes. The result is the ciphertext of each piece (same lengths, in order) followed by the
 * 16-byte tag: concatenated, exactly the bytes of one seal of the concatenated plaintext.
 */
import { createCipheriv } from 'node:crypto';
import { NproError } from '../../core/errors.js';
import { AEAD_KEY_LENGTH, AEAD_TAG_LENGTH } from './provider.js';

function check(key: Uint8Array, nonce: Uint8Array): void {
  if (key.length !== AEAD_KEY_LENGTH) throw new NproError('INVALID_ARGUMENT', 'an AEAD key is 32 bytes');
  if (nonce.length !== 12) throw new NproError('INVALID_ARGUMENT', 'ChaCha20-Poly1305 takes a 12-byte nonce');
}

function totalLength(pieces: readonly Uint8Array[]): number {
  let n = 0;
  for (const p of pieces) n += p.length;
  return n;
}

/** `node:crypto`: one cipher, one `update()` per piece (OpenSSL streams the keystream and the MAC). */
export function nodeSealPieces(key: Uint8Array, nonce: Uint8Array, pieces: readonly Uint8Array[], aad: Uint8Array): Uint8Array[] {
  check(key, nonce);
  const cipher = createCipheriv('chacha20-poly1305', key, nonce, { authTagLength: AEAD_TAG_LENGTH });
  if (aad.length > 0) cipher.setAAD(aad, { plaintextLength: totalLength(pieces) });
  const out: Uint8Array[] = new Array<Uint8Array>(pieces.length + 1);
  for (let i = 0; i < pieces.length; i++) {
    const p = pieces[i]!;
    out[i] = p.length > 0 ? cipher.update(p) : new Uint8Array(0);
  }
  cipher.final();
  out[pieces.length] = cipher.getAuthTag();
  return out;
}

/**
 * Any provider: the pieces are joined and sealed with its `chacha20poly1305Seal`, then the output is
 * cut at the same places (the portable path; the join is the copy that `nodeSealPieces` avoids).
 */
export function sealPiecesJoined(
  seal: (plaintext: Uint8Array) => Uint8Array,
  pieces: readonly Uint8Array[],
): Uint8Array[] {
  const n = totalLength(pieces);
  const joined = new Uint8Array(n);
  let o = 0;
  for (const p of pieces) {
    joined.set(p, o);
    o += p.length;
  }
  const sealed = seal(joined);
  const out: Uint8Array[] = [];
  o = 0;
  for (const p of pieces) {
    out.push(sealed.subarray(o, o + p.length));
    o += p.length;
  }
  out.push(sealed.subarray(n));
  return out;
}
