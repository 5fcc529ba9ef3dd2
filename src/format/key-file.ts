/**
 * Key files (`keys/<id>`): stored raw (not sealed with the master key), JSON with no trailing
 * newline, fields in restic's order:
 * `{"created":…,"username":…,"hostname":…,"kdf":"scrypt","N":…,"r":…,"p":…,"salt":…,"data":…}`.
 * `data` is the master-key JSON sealed with a key derived from the password by
 * scrypt(password, salt, N, r, p, 64 bytes). The file's ID is the SHA-256 of its bytes.
 */
import { ResticError, isResticError } from '../errors.js';
import { GoTime } from './gotime.js';
import { goJsonString } from './json.js';
import {
  decodeMasterKey,
  encodeMasterKey,
  masterKeyFromBytes,
  open,
  randomBytes,
  scrypt,
  seal,
  sha256,
  type MasterKey,
  type ScryptParams,
} from '../crypto/index.js';

export const KEY_SALT_BYTES = 64;
/** Derived key: 32 bytes AES-256, 16 MAC k, 16 MAC r. */
const DERIVED_KEY_BYTES = 64;
/** restic's `KDFTimeout` and `KDFMemory`. */
export const KDF_TIMEOUT_MS = 500;
export const KDF_MEMORY_MIB = 60;
/** simple-scrypt's defaults, which restic falls back to when calibration fails. */
export const DEFAULT_SCRYPT_PARAMS: ScryptParams = { N: 16384, r: 8, p: 1 };
/** Refuse parameters needing more than this much scrypt memory: a hostile key file could otherwise exhaust RAM. */
const MAX_SCRYPT_MEMORY = 2 ** 32;

export interface KeyFile {
  /** RFC3339Nano time as written (informational). */
  created: string;
  username: string;
  hostname: string;
  kdf: string;
  N: number;
  r: number;
  p: number;
  salt: Uint8Array;
  /** IV || sealed master-key JSON || MAC. */
  data: Uint8Array;
}

function corrupt(what: string, message: string, cause?: unknown): ResticError {
  return new ResticError('CORRUPT', `key file ${what}: ${message}`, { file: what, cause });
}

const STD_BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function base64Field(obj: Record<string, unknown>, name: string, what: string): Uint8Array {
  const v = obj[name];
  if (typeof v !== 'string' || !STD_BASE64.test(v)) throw corrupt(what, `field "${name}" is not a base64 string`);
  return Uint8Array.from(Buffer.from(v, 'base64'));
}

function intField(obj: Record<string, unknown>, name: string, what: string): number {
  const v = obj[name];
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) throw corrupt(what, `field "${name}" is not an integer: ${JSON.stringify(v)}`);
  return v;
}

function stringField(obj: Record<string, unknown>, name: string, what: string): string {
  const v = obj[name] ?? '';
  if (typeof v !== 'string') throw corrupt(what, `field "${name}" is not a string`);
  return v;
}

/** Checks scrypt parameters the way restic's KDF does (plus a memory ceiling); returns a problem or undefined. */
export function scryptParamsProblem(params: ScryptParams): string | undefined {
  const { N, r, p } = params;
  if (!Number.isSafeInteger(N) || N <= 1 || (N & (N - 1)) !== 0) return `scrypt N=${N} is not a power of two greater than 1`;
  if (!Number.isSafeInteger(r) || r < 1) return `scrypt r=${r} is less than 1`;
  if (!Number.isSafeInteger(p) || p < 1) return `scrypt p=${p} is less than 1`;
  if (r * p >= 2 ** 30) return `scrypt r*p=${r * p} is too large`;
  if (128 * N * r > MAX_SCRYPT_MEMORY) return `scrypt N=${N}, r=${r} needs ${(128 * N * r) / 2 ** 20} MiB of memory`;
  return undefined;
}

/** Parses a key file's bytes. `what` names the file (e.g. `keys/3f2a…`) in errors. */
export function parseKeyFile(bytes: Uint8Array, what: string): KeyFile {
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (cause) {
    throw corrupt(what, 'not valid JSON', cause);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw corrupt(what, 'not a JSON object');
  const obj = parsed as Record<string, unknown>;
  const kdf = stringField(obj, 'kdf', what);
  if (kdf !== 'scrypt') throw corrupt(what, `unsupported KDF ${JSON.stringify(kdf)} (the only supported KDF is scrypt)`);
  const key: KeyFile = {
    created: stringField(obj, 'created', what),
    username: stringField(obj, 'username', what),
    hostname: stringField(obj, 'hostname', what),
    kdf,
    N: intField(obj, 'N', what),
    r: intField(obj, 'r', what),
    p: intField(obj, 'p', what),
    salt: base64Field(obj, 'salt', what),
    data: base64Field(obj, 'data', what),
  };
  const problem = scryptParamsProblem(key);
  if (problem) throw corrupt(what, problem);
  if (key.salt.length !== KEY_SALT_BYTES) throw corrupt(what, `salt has ${key.salt.length} bytes, want ${KEY_SALT_BYTES}`);
  if (key.data.length < 32) throw corrupt(what, `data has ${key.data.length} bytes, too short to hold a sealed master key`);
  return key;
}

function passwordBytes(password: string | Uint8Array): Uint8Array {
  return typeof password === 'string' ? new TextEncoder().encode(password) : password;
}

/** The key that seals a key file's `data`: scrypt(password, salt, N, r, p) split as 32/16/16. */
export async function deriveUserKey(password: string | Uint8Array, salt: Uint8Array, params: ScryptParams): Promise<MasterKey> {
  return masterKeyFromBytes(await scrypt(passwordBytes(password), salt, params, DERIVED_KEY_BYTES));
}

/**
 * Opens a key file with a password. Returns the master key, or `null` when the password does
 * not open this key (its MAC does not verify: try the next key file). A malformed key file, or
 * sealed data that verifies but holds no valid master key, is CORRUPT naming `what`.
 */
export async function openKeyFile(keyFile: KeyFile, password: string | Uint8Array, what = 'key file'): Promise<MasterKey | null> {
  const userKey = await deriveUserKey(password, keyFile.salt, keyFile);
  let plain: Uint8Array;
  try {
    plain = open(userKey, keyFile.data, what);
  } catch (err) {
    if (isResticError(err, 'MAC_FAILED')) return null;
    throw err;
  }
  try {
    return decodeMasterKey(plain, what);
  } catch (err) {
    throw isResticError(err) ? corrupt(what, `sealed master key is malformed (${err.message})`, err) : err;
  }
}

function elapsedMs(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1e6;
}

export interface CalibrateOptions {
  /** Target duration of one key derivation (restic: 500 ms). */
  timeoutMs?: number;
  /** Memory ceiling for scrypt (restic: 60 MiB). */
  memoryMiB?: number;
}

/**
 * restic's scrypt calibration (simple-scrypt `Calibrate`): r = 8; N = the largest power of two
 * with 128·r·N below the memory budget (32768 for 60 MiB), halved while one derivation takes
 * longer than the timeout; then p = ⌊timeout / duration(p=1)⌋, at least 1. Uses the currently
 * selected scrypt implementation, so the portable path calibrates to its own speed.
 */
export async function calibrateScrypt(options: CalibrateOptions = {}): Promise<ScryptParams> {
  const timeoutMs = options.timeoutMs ?? KDF_TIMEOUT_MS;
  const memBytes = (options.memoryMiB ?? KDF_MEMORY_MIB) * 2 ** 20;
  const r = 8;
  let N = 2;
  while (128 * r * N * 2 < memBytes) N *= 2;
  const password = randomBytes(16);
  const salt = randomBytes(KEY_SALT_BYTES);
  let duration: number;
  for (;;) {
    const start = process.hrtime.bigint();
    await scrypt(password, salt, { N, r, p: 1 }, DERIVED_KEY_BYTES);
    duration = elapsedMs(start);
    if (duration <= timeoutMs || N <= 2) break;
    N /= 2;
  }
  const p = Math.max(1, Math.floor(timeoutMs / Math.max(duration, 1e-3)));
  return { N, r, p };
}

export interface CreateKeyFileOptions {
  /** scrypt parameters; calibrated like restic when omitted. */
  params?: ScryptParams;
  username: string;
  hostname: string;
  /** Defaults to now, in the local zone, written as Go's RFC3339Nano. */
  created?: GoTime;
}

/** restic's JSON for a key file (field order as restic writes it, no trailing newline). */
export function encodeKeyFile(key: KeyFile): Uint8Array {
  const b64 = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('base64');
  const text =
    `{"created":${goJsonString(key.created)},"username":${goJsonString(key.username)},"hostname":${goJsonString(key.hostname)},` +
    `"kdf":${goJsonString(key.kdf)},"N":${key.N},"r":${key.r},"p":${key.p},"salt":"${b64(key.salt)}","data":"${b64(key.data)}"}`;
  return new TextEncoder().encode(text);
}

/**
 * Seals `master` under a new password-derived key. Returns the file's ID (SHA-256 of its bytes,
 * lowercase hex), its bytes (to store at `keys/<id>`), and the parsed form.
 */
export async function createKeyFile(
  master: MasterKey,
  password: string | Uint8Array,
  options: CreateKeyFileOptions,
): Promise<{ id: string; bytes: Uint8Array; keyFile: KeyFile }> {
  const params = options.params ?? (await calibrateScrypt());
  const problem = scryptParamsProblem(params);
  if (problem) throw new RangeError(problem);
  const salt = randomBytes(KEY_SALT_BYTES);
  const userKey = await deriveUserKey(password, salt, params);
  const keyFile: KeyFile = {
    created: (options.created ?? GoTime.now()).toString(),
    username: options.username,
    hostname: options.hostname,
    kdf: 'scrypt',
    N: params.N,
    r: params.r,
    p: params.p,
    salt,
    data: seal(userKey, encodeMasterKey(master)),
  };
  const bytes = encodeKeyFile(keyFile);
  return { id: Buffer.from(sha256(bytes)).toString('hex'), bytes, keyFile };
}
