/**
 * ChaCha20-Poly1305 (RFC 8439 §2.8) over a plaintext given in pieces: the record layer seals a large
 * message payload straight from the caller's buffer, without first copying it behind the record's
 * other bytes. The result is the ciphertext of each piece (same lengths, in order) followed by the
 * 16-byte tag: concatenated, exactly the bytes of one seal of the concatenated plaintext.
 *
 * This file holds the portable form (join, seal once, cut); the node provider streams the pieces
 * through one OpenSSL cipher instead (`node.ts`).
 */

/** The bytes of `pieces` in all. */
export function totalLength(pieces: readonly Uint8Array[]): number {
  let n = 0;
  for (const p of pieces) n += p.length;
  return n;
}

/**
 * The pieces joined and sealed with `seal`, the output cut at the same places (the portable path; the
 * join is the copy that the node provider avoids).
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
