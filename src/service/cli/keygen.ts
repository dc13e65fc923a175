/**
 * `npro keygen [--out FILE]` (behaviour.md §2): a new static X25519 key pair (protocol.md §6).
 * With `--out` the secret key goes to a key file written by `writeKeyFile` (mode 0600 in a
 * directory made 0700; an existing file is never overwritten) and only the public key is printed.
 */
import { encodePublicKey, generateKeyPair, writeKeyFile } from '../../utils/keys.js';
import { toBase64Url } from '../../utils/bytes.js';
import { parseCommand } from './args.js';
import { showHelp } from './help.js';
import { EXIT, println, resolvePath, type CliIo, type ExitCode } from './io.js';

export async function keygenCommand(args: readonly string[], io: CliIo): Promise<ExitCode> {
  const { values } = parseCommand('keygen', args, { out: { type: 'string', short: 'o' } }, { min: 0, max: 0 });
  if (values.help === true) return showHelp(io, 'keygen');
  const pair = generateKeyPair();
  try {
    const publicKey = encodePublicKey(pair.publicKey);
    if (values.out !== undefined) {
      const path = resolvePath(io, values.out);
      await writeKeyFile(path, pair.secretKey);
      println(io.stdout, `wrote secret key to ${path} (mode 0600)`);
      println(io.stdout, `public key: ${publicKey}`);
      return EXIT.OK;
    }
    println(io.stderr, 'warning: the secret key below is printed on the terminal; anyone who sees it can act as this key.');
    println(io.stderr, 'warning: prefer "npro keygen --out FILE", which writes it to a file with mode 0600.');
    println(io.stdout, `public key: ${publicKey}`);
    println(io.stdout, `secret key: ${toBase64Url(pair.secretKey)}`);
    return EXIT.OK;
  } finally {
    pair.secretKey.fill(0);
  }
}
