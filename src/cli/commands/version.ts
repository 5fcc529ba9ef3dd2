/**
 * `version`: which restic-ts, on which Node.js and platform, and which crypto and zstd
 * implementations it picked. `--json` prints one object, shaped like newer restic's
 * (`message_type: "version"`).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { cryptoImplementation } from '../../crypto/index.js';
import type { Command } from '../command.js';

/** The package version (package.json sits three levels above both src/cli/commands and dist/cli/commands). */
export function packageVersion(): string {
  try {
    const path = fileURLToPath(new URL('../../../package.json', import.meta.url));
    const pkg = JSON.parse(readFileSync(path, 'utf8')) as { version?: unknown };
    return typeof pkg.version === 'string' ? pkg.version : 'unknown';
  } catch {
    return 'unknown';
  }
}

export const versionCommand: Command = {
  name: 'version',
  summary: 'Print version information',
  usage: 'version',
  flags: [],
  async run(ctx) {
    const version = packageVersion();
    const crypto = cryptoImplementation();
    if (ctx.global.json) {
      ctx.out.jsonLine(
        JSON.stringify({
          message_type: 'version',
          version,
          node_version: process.version,
          os: process.platform,
          arch: process.arch,
          crypto: { sha256: crypto.sha256, aes: crypto.aes, poly1305: crypto.poly1305, scrypt: crypto.scrypt },
        }),
      );
      return;
    }
    ctx.out.print(`restic-ts ${version} running on Node.js ${process.version} on ${process.platform}/${process.arch}`);
  },
};
