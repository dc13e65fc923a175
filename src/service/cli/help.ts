/** Usage texts of the `npro` command (behaviour.md §2). */
import { EXIT, println, type CliIo, type ExitCode } from './io.js';

export const GENERAL_USAGE = `Usage: npro <command> [options]

Commands:
  daemon   run the npro daemon (prints its endpoints and public key)
  call     send one request and print the response
  ping     measure round-trip times to a daemon
  keygen   make a new static key (X25519)
  cert     make development TLS certificates
  config   print, check or show an example of the configuration
  bench    run the benchmark suite (in a clone of the repository)
  help     show help for a command

Options:
  -h, --help      show this help (or: npro help <command>)
  -v, --version   print the version

Configuration: defaults < --config FILE < NETWORK_PROTOCOL_* environment variables.
Exit codes: 0 ok, 1 runtime error, 2 bad usage or configuration.`;

/** The `--config` line, its description starting at column `width`. */
const configOption = (width: number) => '  -c, --config FILE'.padEnd(width) + 'a TOML configuration file (defaults < file < environment)';

const TRUST_TEXT = `Trust: --server-key KEY pins the daemon's public key (43 characters, as printed by
"npro daemon" or "npro keygen"). Without it the configuration decides: security.server_public_key
pins, security.trust = "any" accepts any key, and by default (tofu) the key seen on the first
connection to an endpoint URL is recorded in security.known_hosts (.npro/known_hosts under the
working directory) and required on every later connection to that URL. Over tls:// the
certificate authenticates the server (tls.ca_file names the CA).`;

export const COMMAND_USAGE: Record<string, string> = {
  daemon: `Usage: npro daemon [--config FILE] [--listen URL]... [--workers N]

Runs the daemon until SIGINT or SIGTERM, then shuts down gracefully (server.shutdown_timeout) and
exits 0. Prints each endpoint it listens on and its public key. The static key is read from
security.key_file (.npro/server.key under the working directory), generated with mode 0600 on the
first start. Logs as [logging] configures.

With N workers, N processes serve the same endpoints with the same key and configuration; this
process accepts each connection and hands it to the next worker. A worker that dies is started
again (with a backoff); more than 10 restarts within a minute stop the daemon (exit 1). Each
worker's log lines carry "worker": its number.

Options:
${configOption(22)}
  -l, --listen URL    an endpoint to listen on, instead of server.address (repeatable):
                      tcp://HOST:PORT, tls://HOST:PORT, unix:///PATH, unix://@NAME (port 0 = any free port)
  -w, --workers N     worker processes (default: the number of cores; 1 = serve in this process)`,

  call: `Usage: npro call URL COMMAND [PAYLOAD] [options]

Connects to URL, sends a request COMMAND with PAYLOAD (UTF-8 text; empty when left out) and prints
the response: as text when it is printable UTF-8, otherwise as hex. Built-in commands: PING, ECHO.
Errors are printed as "error CODE: message" on stderr (exit 1). A PAYLOAD that begins with "-"
goes after "--": npro call URL ECHO -- -x

Options:
${configOption(24)}
  -k, --server-key KEY  pin the daemon's public key
      --key FILE        this client's identity: a key file (made by "npro keygen --out FILE";
                        created if absent), for daemons that list security.authorized_clients;
                        without it each run uses a fresh key
      --timeout MS      response deadline (default client.response_timeout)
      --hex             print the response as hex
      --json            print {"bytes", "text" or "hex", "ms"} as JSON
      --payload-hex     PAYLOAD is hex, not text

${TRUST_TEXT}`,

  ping: `Usage: npro ping URL [--count N] [options]

Connects to URL (one handshake) and sends N pings (default 4), printing each round-trip time and a
summary.

Options:
${configOption(24)}
  -k, --server-key KEY  pin the daemon's public key
      --key FILE        this client's identity (a key file), as for "npro call"
  -n, --count N         number of pings (default 4)
  -i, --interval MS     pause between pings (default 200)

${TRUST_TEXT}`,

  keygen: `Usage: npro keygen [--out FILE]

Makes a new static X25519 key pair. With --out, writes the secret key to FILE (mode 0600; an
existing file is never overwritten) and prints the public key. Without --out, prints the public and
the secret key (base64url) on stdout.

Options:
  -o, --out FILE   the secret key file to write (e.g. .npro/server.key)`,

  cert: `Usage: npro cert --host NAME [--host NAME]... --out DIR [options]

Makes development TLS certificates (ECDSA P-256) for the daemon's tls:// endpoints. Without --ca a
new certificate authority is made and written as DIR/ca.pem and DIR/ca.key. Writes
DIR/server.pem and DIR/server.key, and with --client DIR/client.pem and DIR/client.key (for mTLS).
Keys get mode 0600; existing files are never overwritten. Prints the matching [tls] lines.

Options:
      --host NAME     a host name or IP address of the server (repeatable; at least one)
  -o, --out DIR       the directory to write to (created if needed)
      --ca PATH       sign with this authority instead of making one: a directory holding
                      ca.pem and ca.key, a certificate FILE.pem with FILE.key beside it,
                      or CERT,KEY (two files)
      --client NAME   also make a client certificate for NAME
      --self-signed   make a self-signed server certificate (no authority)
      --days N        validity of the leaf certificates (default 825)`,

  config: `Usage: npro config print [--config FILE]
       npro config check [FILE]
       npro config example

  print     the effective configuration as TOML: defaults < FILE < NETWORK_PROTOCOL_* variables
  check     checks FILE (and the environment) as the daemon would: prints "ok" (exit 0) or every
            problem (exit 2)
  example   the commented example file: every key with its meaning and default`,

  bench: `Usage: npro bench [GROUP...] [--quick] [--runs N] [--systems a,b]

Runs the benchmark suite (node dist/bench/run.js) with these arguments. Available in a clone of the
repository after "npm run build".`,

  help: `Usage: npro help [COMMAND]`,
};

export const COMMANDS = Object.keys(COMMAND_USAGE);

/** Prints the usage of `command` on stdout (asked for with `--help` or `npro help`): exit 0. */
export function showHelp(io: CliIo, command: string): ExitCode {
  println(io.stdout, COMMAND_USAGE[command] ?? GENERAL_USAGE);
  return EXIT.OK;
}
