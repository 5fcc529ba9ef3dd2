/**
 * Creating a repository, as `restic init` does: refuse when anything of a repository is
 * already there (config, a key or a snapshot), prepare the location, then write the first
 * key file and last the config (a location with a config is a repository, so it goes last).
 *
 * The config gets a fresh random 32-byte id and a random irreducible degree-53 chunker
 * polynomial, unless a polynomial is given (`--copy-chunker-params`). It is sealed with the
 * master key and never compressed, even in version 2.
 */
import { hostname as osHostname, userInfo } from 'node:os';
import type { Backend, FileType } from '../backend/backend.js';
import { isIrreducible, randomPolynomial, type Polynomial } from '../chunker/polynomial.js';
import { generateMasterKey, seal, type MasterKey, type ScryptParams } from '../crypto/index.js';
import { ResticError } from '../errors.js';
import { encodeConfig, newConfig, STABLE_REPO_VERSION, type Config } from '../format/config.js';
import { createKeyFile } from '../format/key-file.js';

export interface InitOptions {
  backend: Backend;
  password: string | Uint8Array;
  /** 1 or 2 (default 2, as restic ≥ 0.14). */
  version?: number;
  /** Reuse another repository's polynomial (so both chunk alike and can deduplicate via `copy`). */
  chunkerPolynomial?: Polynomial;
  /** scrypt parameters for the first key; calibrated like restic (≈500 ms, 60 MiB) when omitted. */
  kdfParams?: ScryptParams;
  /** Recorded in the key file; default: the OS user and host name. */
  username?: string;
  hostname?: string;
}

export interface InitResult {
  config: Config;
  keyId: string;
  masterKey: MasterKey;
}

/** Throws ALREADY_EXISTS when the location holds a config, a key or a snapshot. */
export async function ensureNoRepository(backend: Backend): Promise<void> {
  const found = async (type: FileType): Promise<boolean> => {
    try {
      for await (const _ of backend.list(type)) return true;
    } catch (err) {
      // A location that does not exist yet has nothing in it.
      if (err instanceof ResticError && (err.code === 'FILE_NOT_FOUND' || err.code === 'BUCKET_NOT_FOUND')) return false;
      throw err;
    }
    return false;
  };
  for (const [type, what] of [
    ['config', 'a config file'],
    ['key', 'key files'],
    ['snapshot', 'snapshots'],
  ] as const) {
    if (await found(type)) {
      throw new ResticError('ALREADY_EXISTS', `repository at ${backend.location} already exists: it has ${what}; refusing to initialise over it`, {
        file: type === 'config' ? 'config' : type === 'key' ? 'keys/' : 'snapshots/',
      });
    }
  }
}

export function defaultUsername(): string {
  try {
    return userInfo().username;
  } catch {
    return '';
  }
}

export async function initRepository(options: InitOptions): Promise<InitResult> {
  const version = options.version ?? STABLE_REPO_VERSION;
  if (version !== 1 && version !== 2) {
    throw new ResticError('UNSUPPORTED_VERSION', `cannot create repository version ${version}: only 1 and 2 exist`);
  }
  const polynomial = options.chunkerPolynomial ?? randomPolynomial();
  if (!isIrreducible(polynomial)) {
    throw new ResticError('USAGE', `chunker polynomial ${polynomial.toString(16)} is not irreducible`);
  }
  const { backend } = options;
  await ensureNoRepository(backend);
  await backend.create();

  const masterKey = generateMasterKey();
  const key = await createKeyFile(masterKey, options.password, {
    params: options.kdfParams,
    username: options.username ?? defaultUsername(),
    hostname: options.hostname ?? osHostname(),
  });
  await backend.write('key', key.id, key.bytes);

  const config = newConfig(polynomial, version);
  try {
    await backend.write('config', 'config', seal(masterKey, encodeConfig(config)));
  } catch (err) {
    // Without a config our key opens nothing; leaving it would make every later init refuse
    // ("key exists"). When another client's init won the race, its config stands and our key
    // is foreign to it. Either way our key goes; a failure to remove it is secondary.
    await backend.remove('key', key.id).catch(() => undefined);
    throw err;
  }
  return { config, keyId: key.id, masterKey };
}
