/**
 * The crypto providers of npro (style habit 12): `nodeCrypto` (`node:crypto`, the default on Node)
 * and `nobleCrypto` (pure JS). Both give byte-identical results.
 */
import { NproError } from '../../core/errors.js';
import { nobleCrypto } from './noble.js';
import { nodeCrypto } from './node.js';
import type { CryptoProvider } from './provider.js';

export { nobleCrypto, nodeCrypto };
export type { CryptoProvider };
export { AEAD_KEY_LENGTH, AEAD_TAG_LENGTH, X25519_KEY_LENGTH } from './provider.js';

/** The provider used when none is given: `node:crypto` on Node. */
export const defaultCrypto: CryptoProvider = nodeCrypto;

/** The provider of that name. */
export function getCrypto(name: 'node' | 'noble'): CryptoProvider {
  switch (name) {
    case 'node':
      return nodeCrypto;
    case 'noble':
      return nobleCrypto;
    default:
      throw new NproError('INVALID_ARGUMENT', `unknown crypto provider ${JSON.stringify(name as string)} (node or noble)`);
  }
}
