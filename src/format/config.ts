/**
 * The repository `config` file plaintext: `json.Marshal(Config)` with no trailing newline, e.g.
 * `{"version":2,"id":"6d91…","chunker_polynomial":"35e47c26afc4ed"}`. It is sealed with the
 * master key and never compressed (not even in version 2).
 *
 * The polynomial is a uint64 written as lowercase hex without `0x`; it is kept as a bigint.
 * Whether it is irreducible is the repository's check (with the chunker module), not ours.
 */
import { ResticError } from '../errors.js';
import { randomBytes } from '../crypto/primitives.js';

export const CONFIG_FILE = 'config';
export const MIN_REPO_VERSION = 1;
export const MAX_REPO_VERSION = 2;
/** What `restic init` writes by default since 0.14.0. */
export const STABLE_REPO_VERSION = 2;

export interface Config {
  version: number;
  /** 64 hex characters for repositories restic made; the cache directory is keyed by it. */
  id: string;
  chunker_polynomial: bigint;
}

const HEX_UINT64 = /^[0-9a-fA-F]{1,16}$/;
const UINT64_MAX = (1n << 64n) - 1n;

function corrupt(what: string, message: string, cause?: unknown): ResticError {
  return new ResticError('CORRUPT', `${what}: ${message}`, { file: what, cause });
}

/** Parses decrypted config plaintext. Unknown fields are ignored, as Go's json.Unmarshal does. */
export function parseConfig(plaintext: Uint8Array, what = CONFIG_FILE): Config {
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(plaintext));
  } catch (cause) {
    throw corrupt(what, 'repository config is not valid JSON', cause);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw corrupt(what, 'repository config is not a JSON object');
  }
  const obj = parsed as Record<string, unknown>;
  const version = obj.version ?? 0;
  if (typeof version !== 'number' || !Number.isInteger(version)) {
    throw corrupt(what, `repository config "version" is not an integer: ${JSON.stringify(obj.version)}`);
  }
  if (version < MIN_REPO_VERSION || version > MAX_REPO_VERSION) {
    throw new ResticError('UNSUPPORTED_VERSION', `${what}: unsupported repository version ${version} (supported: ${MIN_REPO_VERSION} and ${MAX_REPO_VERSION})`, {
      file: what,
    });
  }
  const id = obj.id ?? '';
  if (typeof id !== 'string' || id === '') {
    throw corrupt(what, 'repository config has no "id" string');
  }
  const pol = obj.chunker_polynomial;
  if (typeof pol !== 'string' || !HEX_UINT64.test(pol)) {
    throw corrupt(what, `repository config "chunker_polynomial" is not a hex uint64: ${JSON.stringify(pol)}`);
  }
  const polynomial = BigInt('0x' + pol);
  if (polynomial === 0n) throw corrupt(what, 'repository config "chunker_polynomial" is zero');
  return { version, id, chunker_polynomial: polynomial };
}

/** The exact bytes restic writes for a config (json.Marshal field order, no newline). */
export function encodeConfig(config: Config): Uint8Array {
  if (!Number.isInteger(config.version) || config.version < MIN_REPO_VERSION || config.version > MAX_REPO_VERSION) {
    throw new ResticError('UNSUPPORTED_VERSION', `cannot write repository version ${config.version}`);
  }
  if (config.chunker_polynomial <= 0n || config.chunker_polynomial > UINT64_MAX) {
    throw new RangeError(`chunker polynomial out of range: ${config.chunker_polynomial}`);
  }
  const text = `{"version":${config.version},"id":${JSON.stringify(config.id)},"chunker_polynomial":"${config.chunker_polynomial.toString(16)}"}`;
  return new TextEncoder().encode(text);
}

/** A config for a new repository: a random 32-byte ID and the given (irreducible) polynomial. */
export function newConfig(chunkerPolynomial: bigint, version = STABLE_REPO_VERSION): Config {
  return { version, id: Buffer.from(randomBytes(32)).toString('hex'), chunker_polynomial: chunkerPolynomial };
}
