/**
 * An open restic repository: the backend, the master key, the config, and everything needed
 * to read it — raw files with their hash checked, unpacked files (snapshots, index, locks),
 * the master index, blobs and trees, and snapshot lookup by ID, prefix or `latest`.
 *
 * Read order follows restic's design: snapshots are listed before the index is loaded, so a
 * snapshot written meanwhile never points at an index we have not seen.
 */
import { relativePath, type Backend, type FileInfo, type FileType } from '../backend/backend.js';
import { isIrreducible } from '../chunker/polynomial.js';
import { decompress, type CompressionMode } from '../compression/index.js';
import { open, sha256, type MasterKey } from '../crypto/index.js';
import { ResticError, isResticError } from '../errors.js';
import { CONFIG_FILE, parseConfig, type Config } from '../format/config.js';
import { isId, shortId, type Id } from '../format/id.js';
import { openKeyFile, parseKeyFile, type KeyFile } from '../format/key-file.js';
import { parseTree, type ParseTreeOptions, type Tree } from '../format/node.js';
import { parseSnapshot, type Snapshot } from '../format/snapshot.js';
import { matchesFilter, type SnapshotFilter } from '../format/snapshot-filter.js';
import { loadMasterIndex, MasterIndex, type IndexLoadProgress } from '../index/master-index.js';
import type { BlobType } from '../pack/header.js';
import { saveUnpacked } from './index-writer.js';
import { decodeUnpacked } from './unpacked.js';

/** restic tries at most this many key files (`maxKeys` in cmd/restic/global.go). */
export const DEFAULT_MAX_KEYS = 20;

/** Types of files stored as sealed (and in v2 compressed) JSON. */
export type UnpackedFileType = 'snapshot' | 'index' | 'lock';

export interface OpenProgress {
  /** `key`: trying a key file; `key-damaged`: a key file was skipped as unreadable; `config`: loading the config. */
  phase: 'key' | 'key-damaged' | 'config';
  keyId?: Id;
  /** For `key-damaged`: what is wrong with it. */
  error?: ResticError;
}

export interface RepositoryOpenOptions {
  backend: Backend;
  /** The password; or give `masterKey` to skip the key files (an already-derived key). */
  password?: string | Uint8Array;
  masterKey?: MasterKey;
  /** A key ID or prefix to try first (`--key-hint`). */
  keyHint?: string;
  /** How many key files to try at most (default 20, as restic). */
  maxKeys?: number;
  /** How new unpacked files and blobs are compressed (v2 only; default `auto`). */
  compression?: CompressionMode;
  onProgress?: (event: OpenProgress) => void;
}

/** A snapshot together with its ID (the SHA-256 of its file). */
export interface SnapshotEntry {
  id: Id;
  snapshot: Snapshot;
}

export interface SnapshotListProgress {
  loaded: number;
  total: number;
}

export interface ListSnapshotsOptions {
  onProgress?: (progress: SnapshotListProgress) => void;
  /** Snapshot files loaded at once (default 8). */
  concurrency?: number;
  /**
   * Skip snapshot files that are damaged (CORRUPT, MAC_FAILED) or vanished meanwhile, reporting
   * each here, instead of failing the whole listing.
   */
  onDamaged?: (id: Id, error: ResticError) => void;
}

export interface LoadIndexOptions {
  onProgress?: (progress: IndexLoadProgress) => void;
  concurrency?: number;
}

/** A resolved `snapshot[:subpath]` reference. */
export interface FoundSnapshot extends SnapshotEntry {
  /** The subpath after `:` (empty when none was given), without leading/trailing slashes. */
  subpath: string;
  /** Tree ID of the subpath (the snapshot's root tree when no subpath was given). */
  tree: Id;
}

/** Bytes of decoded trees kept in memory for repeated walks. */
const TREE_CACHE_BYTES = 32 * 1024 * 1024;

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

export class Repository {
  readonly backend: Backend;
  readonly config: Config;
  readonly masterKey: MasterKey;
  /** The key file that opened the repository (undefined when opened with a master key). */
  readonly keyId: Id | undefined;
  /** Compression for files this repository writes (v2; v1 never compresses). */
  readonly compression: CompressionMode;
  private masterIndex: MasterIndex | undefined;
  private readonly treeCache = new Map<Id, { tree: Tree; size: number }>();
  private treeCacheBytes = 0;

  private constructor(backend: Backend, config: Config, masterKey: MasterKey, keyId: Id | undefined, compression: CompressionMode) {
    this.backend = backend;
    this.compression = compression;
    this.config = config;
    this.masterKey = masterKey;
    this.keyId = keyId;
  }

  /**
   * Opens a repository: checks that `config` exists (REPOSITORY_NOT_FOUND otherwise), finds the
   * key file the password opens (WRONG_PASSWORD when none does), then decrypts and checks the
   * config (MAC_FAILED, UNSUPPORTED_VERSION, CORRUPT for a reducible chunker polynomial).
   */
  static async open(options: RepositoryOpenOptions): Promise<Repository> {
    const { backend } = options;
    await assertRepositoryExists(backend);
    let masterKey: MasterKey;
    let keyId: Id | undefined;
    if (options.masterKey) {
      masterKey = options.masterKey;
    } else {
      if (options.password === undefined) throw new ResticError('USAGE', 'Repository.open needs a password or a master key');
      const found = await Repository.searchKey(backend, options.password, {
        keyHint: options.keyHint,
        maxKeys: options.maxKeys ?? DEFAULT_MAX_KEYS,
        onProgress: options.onProgress,
      });
      masterKey = found.masterKey;
      keyId = found.keyId;
    }
    options.onProgress?.({ phase: 'config' });
    const config = await loadConfig(backend, masterKey);
    return new Repository(backend, config, masterKey, keyId, options.compression ?? 'auto');
  }

  /**
   * Finds the key file `password` opens: the `keyHint` match first, then every key file in
   * listing order, at most `maxKeys` of them. A key whose MAC does not verify belongs to
   * another password and is skipped. A damaged key file (bad JSON, wrong hash, bad sealed
   * key) is reported through `onProgress` and skipped too, so one broken file does not lock
   * out the other keys; when no key opens, the first damaged file is the error (CORRUPT
   * naming it), since it may have been this password's key. Otherwise WRONG_PASSWORD.
   */
  static async searchKey(
    backend: Backend,
    password: string | Uint8Array,
    options: { keyHint?: string | undefined; maxKeys?: number; onProgress?: ((event: OpenProgress) => void) | undefined } = {},
  ): Promise<{ keyId: Id; masterKey: MasterKey; keyFile: KeyFile }> {
    const keyIds: Id[] = [];
    for await (const info of backend.list('key')) if (isId(info.name)) keyIds.push(info.name.toLowerCase());
    keyIds.sort();
    const damaged: ResticError[] = [];
    const tryKey = async (keyId: Id): Promise<{ keyId: Id; masterKey: MasterKey; keyFile: KeyFile } | undefined> => {
      options.onProgress?.({ phase: 'key', keyId });
      const file = relativePath('key', keyId);
      try {
        const bytes = await readVerified(backend, 'key', keyId);
        const keyFile = parseKeyFile(bytes, file);
        const masterKey = await openKeyFile(keyFile, password, file);
        return masterKey ? { keyId, masterKey, keyFile } : undefined;
      } catch (err) {
        if (!isResticError(err, 'CORRUPT')) throw err;
        damaged.push(err);
        options.onProgress?.({ phase: 'key-damaged', keyId, error: err });
        return undefined;
      }
    };

    const hint = options.keyHint?.toLowerCase();
    let hinted: Id | undefined;
    if (hint) {
      const matches = keyIds.filter((id) => id.startsWith(hint));
      if (matches.length === 1) {
        hinted = matches[0];
        const found = await tryKey(hinted);
        if (found) return found;
      }
    }
    const maxKeys = options.maxKeys ?? DEFAULT_MAX_KEYS;
    let checked = 0;
    for (const keyId of keyIds) {
      if (keyId === hinted) continue;
      if (checked >= maxKeys) {
        throw new ResticError('WRONG_PASSWORD', `wrong password or no key found (tried the maximum of ${maxKeys} keys; use --key-hint)`);
      }
      checked++;
      const found = await tryKey(keyId);
      if (found) return found;
    }
    if (damaged.length > 0) {
      const first = damaged[0];
      const more = damaged.length > 1 ? ` (and ${damaged.length - 1} more damaged key files)` : '';
      throw new ResticError('CORRUPT', `${first.message}${more}; no other key file matches the password`, { file: first.file, cause: first });
    }
    throw new ResticError('WRONG_PASSWORD', 'wrong password or no key found');
  }

  /** The master index; LoadIndex must have run. */
  get index(): MasterIndex {
    if (!this.masterIndex) throw new Error('internal: the index is not loaded (call loadIndex first)');
    return this.masterIndex;
  }

  get indexLoaded(): boolean {
    return this.masterIndex !== undefined;
  }

  /** Files of one type with their sizes (names that are not IDs are skipped). */
  async *list(type: FileType): AsyncIterable<FileInfo> {
    for await (const info of this.backend.list(type)) {
      if (type === 'config' || isId(info.name)) yield info;
    }
  }

  /** IDs of all files of one type, sorted. */
  async listIds(type: Exclude<FileType, 'config'>): Promise<Id[]> {
    const ids: Id[] = [];
    for await (const info of this.list(type)) ids.push(info.name.toLowerCase());
    return ids.sort();
  }

  /** A whole file, its SHA-256 checked against its name (except `config`). */
  loadRaw(type: FileType, id: string): Promise<Uint8Array> {
    return readVerified(this.backend, type, id);
  }

  /** A snapshot, index or lock file: hash checked, MAC verified, decrypted, decompressed (v2). */
  async loadUnpacked(type: UnpackedFileType, id: Id): Promise<Uint8Array> {
    const file = relativePath(type, id);
    const raw = await this.loadRaw(type, id);
    const plaintext = open(this.masterKey, raw, file);
    return decodeUnpacked(plaintext, file);
  }

  /**
   * Stores a snapshot, index or lock file: compressed (v2), sealed, named by the SHA-256 of
   * the stored bytes. Returns the new file's ID.
   */
  saveUnpacked(type: UnpackedFileType, json: Uint8Array): Promise<Id> {
    return saveUnpacked(this, type, json, this.compression);
  }

  async loadSnapshot(id: Id): Promise<SnapshotEntry> {
    let bytes: Uint8Array;
    try {
      bytes = await this.loadUnpacked('snapshot', id);
    } catch (err) {
      if (isResticError(err, 'FILE_NOT_FOUND')) {
        throw new ResticError('SNAPSHOT_NOT_FOUND', `snapshot ${id} not found`, { file: relativePath('snapshot', id), cause: err });
      }
      throw err;
    }
    return { id, snapshot: parseSnapshot(bytes, id) };
  }

  /**
   * Every snapshot, in snapshot-ID order. A file that cannot be read, decrypted or parsed
   * fails the call (the error names it) — unless `onDamaged` is given: then it is reported
   * there and left out, and the other snapshots are returned (what restic does, with a warning).
   */
  async listSnapshots(options: ListSnapshotsOptions = {}): Promise<SnapshotEntry[]> {
    const ids = await this.listIds('snapshot');
    const results = new Array<SnapshotEntry | undefined>(ids.length);
    let next = 0;
    let loaded = 0;
    const worker = async (): Promise<void> => {
      while (next < ids.length) {
        const i = next++;
        try {
          results[i] = await this.loadSnapshot(ids[i]);
        } catch (err) {
          const damaged = isResticError(err) && (err.code === 'CORRUPT' || err.code === 'MAC_FAILED' || err.code === 'SNAPSHOT_NOT_FOUND');
          if (!damaged || !options.onDamaged) throw err;
          options.onDamaged(ids[i], err as ResticError);
        }
        loaded++;
        options.onProgress?.({ loaded, total: ids.length });
      }
    };
    await runWorkers(worker, Math.min(options.concurrency ?? 8, ids.length));
    return results.filter((r): r is SnapshotEntry => r !== undefined);
  }

  /** Loads all index files into the master index (once; later calls return the same index). */
  async loadIndex(options: LoadIndexOptions = {}): Promise<MasterIndex> {
    if (this.masterIndex) return this.masterIndex;
    const loadOptions: Parameters<typeof loadMasterIndex>[2] = { repositoryVersion: this.config.version };
    if (options.onProgress) loadOptions.onProgress = options.onProgress;
    if (options.concurrency !== undefined) loadOptions.concurrency = options.concurrency;
    this.masterIndex = await loadMasterIndex(
      () => this.listIds('index'),
      (fileId) => this.loadUnpacked('index', fileId),
      loadOptions,
    );
    return this.masterIndex;
  }

  /** Replaces the master index (for callers that build or update one themselves). */
  setIndex(index: MasterIndex): void {
    this.masterIndex = index;
  }

  /**
   * A blob's plaintext. Tries every copy the index lists; each is decrypted, decompressed and
   * its SHA-256 compared with the blob ID. BLOB_NOT_FOUND when the index has no copy; the last
   * copy's error (MAC_FAILED / CORRUPT naming pack and blob) when none is intact.
   */
  async loadBlob(type: BlobType, id: Id): Promise<Uint8Array> {
    await this.loadIndex();
    const locations = this.index.lookup(type, id);
    if (locations.length === 0) {
      throw new ResticError('BLOB_NOT_FOUND', `${type} blob ${id} is not in the index`);
    }
    let lastError: unknown;
    for (const loc of locations) {
      const file = relativePath('pack', loc.packId);
      const what = `${file}: ${type} blob ${id}`;
      try {
        const sealed = await this.backend.read('pack', loc.packId, { offset: loc.offset, length: loc.length });
        if (sealed.length !== loc.length) {
          throw new ResticError('CORRUPT', `${what}: read ${sealed.length} of ${loc.length} bytes at offset ${loc.offset}`, { file });
        }
        let plaintext = open(this.masterKey, sealed, what);
        if (loc.uncompressedLength !== 0) {
          try {
            plaintext = await decompress(plaintext, loc.uncompressedLength, what);
          } catch (err) {
            throw new ResticError('CORRUPT', `${what}: cannot decompress: ${(err as Error).message}`, { file, cause: err });
          }
          if (plaintext.length !== loc.uncompressedLength) {
            throw new ResticError('CORRUPT', `${what}: decompressed to ${plaintext.length} bytes, index says ${loc.uncompressedLength}`, { file });
          }
        }
        const actual = hex(sha256(plaintext));
        if (actual !== id) {
          throw new ResticError('CORRUPT', `${what}: content hash does not match (got ${actual})`, { file });
        }
        return plaintext;
      } catch (err) {
        lastError = err;
      }
    }
    throw lastError;
  }

  /** A tree blob, parsed; recently used trees are cached. */
  /**
   * A tree, from the cache when it is there. With `keepNodeText` (see parseTree) the tree is
   * parsed afresh and not cached: the archiver's parent trees, read once per backup.
   */
  async loadTree(id: Id, options: ParseTreeOptions = {}): Promise<Tree> {
    if (options.keepNodeText) return parseTree(await this.loadBlob('tree', id), id, options);
    const cached = this.treeCache.get(id);
    if (cached) {
      // refresh its position for LRU eviction
      this.treeCache.delete(id);
      this.treeCache.set(id, cached);
      return cached.tree;
    }
    const bytes = await this.loadBlob('tree', id);
    const tree = parseTree(bytes, id);
    const size = bytes.length;
    if (size <= TREE_CACHE_BYTES / 4) {
      this.treeCache.set(id, { tree, size });
      this.treeCacheBytes += size;
      for (const [key, entry] of this.treeCache) {
        if (this.treeCacheBytes <= TREE_CACHE_BYTES) break;
        this.treeCache.delete(key);
        this.treeCacheBytes -= entry.size;
      }
    }
    return tree;
  }

  /**
   * The full snapshot ID for a full ID or a unique prefix of one (restic's FindSnapshot).
   * SNAPSHOT_NOT_FOUND when nothing matches, SNAPSHOT_AMBIGUOUS when several do.
   */
  async findSnapshotId(prefix: string): Promise<Id> {
    const wanted = prefix.toLowerCase();
    if (wanted === '' || !/^[0-9a-f]+$/.test(wanted)) {
      throw new ResticError('SNAPSHOT_NOT_FOUND', `no matching ID found for prefix ${JSON.stringify(prefix)}`);
    }
    let match: Id | undefined;
    for await (const info of this.list('snapshot')) {
      const name = info.name.toLowerCase();
      if (!name.startsWith(wanted)) continue;
      if (match !== undefined && match !== name) {
        throw new ResticError('SNAPSHOT_AMBIGUOUS', `multiple IDs with prefix ${JSON.stringify(prefix)} found`);
      }
      match = name;
    }
    if (match === undefined) throw new ResticError('SNAPSHOT_NOT_FOUND', `no matching ID found for prefix ${JSON.stringify(prefix)}`);
    return match;
  }

  /**
   * The newest snapshot matching `filter` (hosts any-of, tag lists, paths all-of), as
   * restic's `latest`. SNAPSHOT_NOT_FOUND when none matches.
   */
  async findLatestSnapshot(filter: SnapshotFilter = {}): Promise<SnapshotEntry> {
    let best: SnapshotEntry | undefined;
    for (const entry of await this.listSnapshots()) {
      if (!matchesFilter(entry.snapshot, filter)) continue;
      if (!best || entry.snapshot.time.compare(best.snapshot.time) >= 0) best = entry;
    }
    if (!best) throw new ResticError('SNAPSHOT_NOT_FOUND', `no snapshot matched the given filter${describeFilter(filter)}`);
    return best;
  }

  /**
   * Resolves `ID`, `ID-prefix` or `latest`, optionally followed by `:subpath`, to a snapshot and
   * the tree of that subpath. The filter applies to `latest` only, as in restic.
   */
  async findSnapshot(ref: string, filter: SnapshotFilter = {}): Promise<FoundSnapshot> {
    const colon = ref.indexOf(':');
    const name = colon < 0 ? ref : ref.slice(0, colon);
    const subpath = colon < 0 ? '' : ref.slice(colon + 1);
    const entry = name === 'latest' ? await this.findLatestSnapshot(filter) : await this.loadSnapshot(await this.findSnapshotId(name));
    const root = entry.snapshot.tree;
    if (!root) throw new ResticError('CORRUPT', `snapshot ${shortId(entry.id)} has no tree`, { file: relativePath('snapshot', entry.id) });
    const cleanSubpath = subpath.split('/').filter((p) => p !== '' && p !== '.').join('/');
    const tree = cleanSubpath === '' ? root : await this.findSubtree(root, cleanSubpath, entry.id);
    return { ...entry, subpath: cleanSubpath, tree };
  }

  /** The tree ID of directory `subpath` below tree `root` (SNAPSHOT_NOT_FOUND naming the path). */
  async findSubtree(root: Id, subpath: string, snapshotId?: Id): Promise<Id> {
    let current = root;
    const parts = subpath.split('/').filter((p) => p !== '' && p !== '.');
    const where = snapshotId ? ` in snapshot ${shortId(snapshotId)}` : '';
    for (let i = 0; i < parts.length; i++) {
      const tree = await this.loadTree(current);
      const wanted = Buffer.from(parts[i], 'utf8');
      const node = tree.nodes.find((n) => Buffer.compare(n.name, wanted) === 0);
      const path = '/' + parts.slice(0, i + 1).join('/');
      if (!node) throw new ResticError('SNAPSHOT_NOT_FOUND', `path ${path} not found${where}`);
      if (node.type !== 'dir' || !node.subtree) {
        throw new ResticError('SNAPSHOT_NOT_FOUND', `path ${path}${where} is not a directory`);
      }
      current = node.subtree;
    }
    return current;
  }

  /** Releases the backend. */
  async close(): Promise<void> {
    await this.backend.close();
  }
}

function describeFilter(filter: SnapshotFilter): string {
  const parts: string[] = [];
  if (filter.hosts && filter.hosts.length > 0) parts.push(`hosts ${filter.hosts.join(', ')}`);
  if (filter.tags && filter.tags.length > 0) parts.push(`tags ${filter.tags.map((l) => l.join(',')).join(' or ')}`);
  if (filter.paths && filter.paths.length > 0) parts.push(`paths ${filter.paths.join(', ')}`);
  return parts.length > 0 ? ` (${parts.join('; ')})` : '';
}

async function runWorkers(worker: () => Promise<void>, count: number): Promise<void> {
  const workers: Promise<void>[] = [];
  for (let i = 0; i < count; i++) workers.push(worker());
  const results = await Promise.allSettled(workers);
  for (const r of results) if (r.status === 'rejected') throw r.reason;
}

/** REPOSITORY_NOT_FOUND when there is no `config` at the location (restic's message, roughly). */
async function assertRepositoryExists(backend: Backend): Promise<void> {
  try {
    await backend.stat('config', CONFIG_FILE);
  } catch (err) {
    if (isResticError(err, 'FILE_NOT_FOUND')) {
      throw new ResticError(
        'REPOSITORY_NOT_FOUND',
        `unable to open config file: ${backend.location} does not exist or is not a repository (no config file)\n` +
          `Is there a repository at the following location?\n${backend.location}`,
        { file: CONFIG_FILE, cause: err },
      );
    }
    throw err;
  }
}

async function readVerified(backend: Backend, type: FileType, name: string): Promise<Uint8Array> {
  const bytes = await backend.read(type, name);
  if (type !== 'config') {
    const actual = hex(sha256(bytes));
    if (actual !== name.toLowerCase()) {
      const file = relativePath(type, name);
      throw new ResticError('CORRUPT', `${file}: hash does not match the file name (content SHA-256 is ${actual}): the file is damaged`, {
        file,
      });
    }
  }
  return bytes;
}

async function loadConfig(backend: Backend, masterKey: MasterKey): Promise<Config> {
  const raw = await backend.read('config', CONFIG_FILE);
  let plaintext: Uint8Array;
  try {
    plaintext = open(masterKey, raw, CONFIG_FILE);
  } catch (err) {
    if (isResticError(err, 'MAC_FAILED')) {
      throw new ResticError('MAC_FAILED', `config: ciphertext verification failed: the config file is damaged or was not written with this key`, {
        file: CONFIG_FILE,
        cause: err,
      });
    }
    throw err;
  }
  const config = parseConfig(plaintext, CONFIG_FILE);
  if (!isIrreducible(config.chunker_polynomial)) {
    throw new ResticError('CORRUPT', `config: invalid chunker polynomial ${config.chunker_polynomial.toString(16)} (not irreducible)`, {
      file: CONFIG_FILE,
    });
  }
  return config;
}
