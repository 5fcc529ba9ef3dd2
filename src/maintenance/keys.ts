/**
 * Key management (`key add|remove|passwd`): every key file seals the same master key under
 * a password-derived key, so adding a password is writing one more key file, and changing
 * one is adding the new key and then removing the old (in that order, so a crash never
 * leaves the repository without a key for the user).
 */
import { hostname as osHostname, userInfo } from 'node:os';
import { relativePath } from '../backend/backend.js';
import { sha256Hex } from '../crypto/index.js';
import { ResticError, isResticError } from '../errors.js';
import { GoTime } from '../format/gotime.js';
import { createKeyFile, type KeyFile } from '../format/key-file.js';
import type { ScryptParams } from '../crypto/primitives.js';
import { idFromBytes, type Id } from '../format/id.js';
import type { Repository } from '../repository/repository.js';

export interface AddKeyOptions {
  /** Defaults to the current user's name (as restic). */
  username?: string;
  /** Defaults to this machine's hostname. */
  hostname?: string;
  /** scrypt parameters; calibrated like restic's (500 ms, 60 MiB) when omitted. Tests pass small ones. */
  params?: ScryptParams;
  created?: GoTime;
}

export interface AddedKey {
  id: Id;
  keyFile: KeyFile;
}

function currentUser(): string {
  try {
    return userInfo().username;
  } catch {
    return '';
  }
}

/** Writes a new key file for `password`, sealing the repository's master key. */
export async function addKey(repo: Repository, password: string | Uint8Array, options: AddKeyOptions = {}): Promise<AddedKey> {
  if ((typeof password === 'string' ? password.length : password.length) === 0) {
    throw new ResticError('USAGE', 'an empty password is not allowed by default');
  }
  const createOptions: Parameters<typeof createKeyFile>[2] = {
    username: options.username ?? currentUser(),
    hostname: options.hostname ?? osHostname(),
  };
  if (options.params) createOptions.params = options.params;
  if (options.created) createOptions.created = options.created;
  const { id, bytes, keyFile } = await createKeyFile(repo.masterKey, password, createOptions);
  await repo.backend.write('key', id, bytes);
  return { id, keyFile };
}

/** The full ID of the key file `prefix` names (SNAPSHOT-style prefix lookup; USAGE when none/ambiguous). */
export async function findKeyId(repo: Repository, prefix: string): Promise<Id> {
  const wanted = prefix.toLowerCase();
  const matches = (await repo.listIds('key')).filter((id) => wanted !== '' && id.startsWith(wanted));
  if (matches.length === 0) throw new ResticError('FILE_NOT_FOUND', `no matching ID found for prefix ${JSON.stringify(prefix)}`);
  if (matches.length > 1) throw new ResticError('USAGE', `multiple IDs with prefix ${JSON.stringify(prefix)} found`);
  return matches[0];
}

/**
 * Deletes a key file. The key that opened `repo` is refused (restic: "refusing to remove key
 * currently used to access repository"), so a user cannot lock themselves out by accident.
 */
export async function removeKey(repo: Repository, keyId: Id): Promise<void> {
  if (keyId === repo.keyId) {
    throw new ResticError('USAGE', 'refusing to remove key currently used to access repository', { file: relativePath('key', keyId) });
  }
  await repo.backend.stat('key', keyId);
  if (repo.keyId === undefined && (await repo.listIds('key')).length <= 1) {
    // Opened with a master key: no key in use protects the last one. Without a key file
    // nobody can open the repository again.
    throw new ResticError('USAGE', 'refusing to remove the last key of the repository', { file: relativePath('key', keyId) });
  }
  await repo.backend.remove('key', keyId);
}

/**
 * Changes the password of the key in use: adds a key for `newPassword` (same user and host
 * unless given), then removes the old key file. Returns the new key.
 */
export async function changePassword(repo: Repository, newPassword: string | Uint8Array, options: AddKeyOptions = {}): Promise<AddedKey> {
  const old = repo.keyId;
  if (old === undefined) throw new ResticError('USAGE', 'the repository was opened with a master key, not a key file: no password to change');
  const added = await addKey(repo, newPassword, options);
  // Verify before deleting: the new key file must read back as written (its name is the
  // SHA-256 of its bytes), or the old key would go while the new one is unusable.
  const file = relativePath('key', added.id);
  let stored: Uint8Array;
  try {
    stored = await repo.backend.read('key', added.id);
  } catch (err) {
    throw new ResticError(isResticError(err) ? err.code : 'FATAL', `new key ${file} cannot be read back: ${(err as Error).message}; the old key was kept`, { file, cause: err });
  }
  if (sha256Hex(stored) !== added.id) {
    throw new ResticError('CORRUPT', `new key ${file} does not read back as written; the old key was kept`, { file });
  }
  await repo.backend.remove('key', old);
  return added;
}
