/**
 * The backup pipeline: walk the sources, chunk and save file contents, build restic-identical
 * tree blobs bottom-up, flush packs and index, then write the snapshot.
 *
 * Three kinds of source share the same machinery: the local file system (`backup`), a single
 * stream such as stdin (`backupStream`), and a tree described as data (`backupTree`).
 *
 * Ordering guarantees (restic-format.md §1.4): a snapshot is written only after `flush` has
 * stored every pack and the index files naming them, so an interrupted backup leaves at most
 * unreferenced packs. Concurrency: up to `fileConcurrency` large files are read at once
 * (restic reads 2), each with a few blobs being compressed/encrypted in parallel (worker
 * threads, see BlobSaver); small files (one chunk) are read synchronously, 8 at a time; each
 * directory processes a window of 8 entries. Memory stays bounded by those numbers times the
 * chunk size plus the packs in flight — not by file or tree size.
 */
import { closeSync, lstatSync, openSync, promises as fs, readdirSync, readSync, type BigIntStats } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { hostname as osHostname, userInfo } from 'node:os';
import path from 'node:path';
import type { Backend } from '../backend/backend.js';
import { MIN_CHUNK_SIZE } from '../chunker/chunker.js';
import type { Polynomial } from '../chunker/polynomial.js';
import type { CompressionMode } from '../compression/index.js';
import type { MasterKey } from '../crypto/index.js';
import { ResticError, isResticError } from '../errors.js';
import { GoTime } from '../format/gotime.js';
import type { Id } from '../format/id.js';
import { encodeLikePrevious, encodeTree, newNode, nodesEqual, type ParseTreeOptions, type Tree, type TreeNode } from '../format/node.js';
import { encodeSnapshotBytes, type Snapshot, type SnapshotSummary } from '../format/snapshot.js';
import type { MasterIndex } from '../index/master-index.js';
import { BlobSaver, type BlobSaverStats } from '../repository/blob-saver.js';
import { saveUnpacked } from '../repository/index-writer.js';
import { ChunkAssembler, ChunkBufferPool, chunkBytes, chunkFile, chunkStream } from './chunk-reader.js';
import { ExcludeFilter, type ExcludeOptions } from './excludes.js';
import { addExtendedAttributes, nodeFromStats } from './fs-node.js';
import { buildTargetTree, resolveTargets, type TargetTree } from './targets.js';
import { SystemNameLookup, type NameLookup } from './users.js';

export const PROGRAM_VERSION = 'restic-ts 0.1.0';

/** What the archiver needs from an open repository (a `Repository` provides all of it). */
export interface ArchiveRepository {
  readonly backend: Backend;
  readonly masterKey: MasterKey;
  readonly config: { version: number; chunker_polynomial: Polynomial };
  readonly index: MasterIndex;
  /** `keepNodeText` is asked for parent-snapshot trees (see parseTree); an implementation may ignore it. */
  loadTree(id: Id, options?: ParseTreeOptions): Promise<Tree>;
  /** When present and false, `loadIndex` is called before the backup starts. */
  readonly indexLoaded?: boolean;
  loadIndex?(): Promise<unknown>;
}

/** Deduplication needs the repository's index: load it if the caller has not. */
async function ensureIndex(repo: ArchiveRepository): Promise<void> {
  if (repo.indexLoaded === false && repo.loadIndex) await repo.loadIndex();
}

export interface BackupItemError {
  /** The path (or virtual path) concerned. */
  item: string;
  /** What was being done: `lstat`, `readdir`, `open`, `read`, `readlink`, `scan`. */
  during: string;
  error: Error;
}

export interface BackupProgress {
  secondsElapsed: number;
  /** Totals from the scanner (grow while it runs). */
  totalFiles: number;
  totalBytes: number;
  filesDone: number;
  bytesDone: number;
  errors: number;
  /** Files being read right now. */
  currentFiles: string[];
  scanFinished: boolean;
}

export interface BackupSummary {
  filesNew: number;
  filesChanged: number;
  filesUnmodified: number;
  dirsNew: number;
  dirsChanged: number;
  dirsUnmodified: number;
  dataBlobs: number;
  treeBlobs: number;
  /** Uncompressed bytes of new blobs (restic's data_added). */
  dataAdded: number;
  /** Bytes the new blobs take in the repository (restic ≥ 0.17's data_added_packed). */
  dataAddedPacked: number;
  totalFilesProcessed: number;
  totalBytesProcessed: number;
  /** Seconds. */
  totalDuration: number;
  backupStart: GoTime;
  backupEnd: GoTime;
}

export interface BackupResult {
  /** Undefined on a dry run. */
  snapshotId?: Id;
  snapshot: Snapshot;
  summary: BackupSummary;
  /** Items that could not be read (the snapshot is then incomplete: exit code 3). */
  errors: BackupItemError[];
  parentId?: Id;
  saver: BlobSaverStats;
}

export interface CommonBackupOptions {
  repository: ArchiveRepository;
  tags?: string[];
  /** Default: the OS host name. */
  hostname?: string;
  /** Snapshot time; default now. */
  time?: GoTime;
  compression?: CompressionMode;
  /** Target pack size in bytes. */
  packSize?: number;
  dryRun?: boolean;
  /** Parent snapshot ID for change detection (`--parent`); `null` for none. Default: restic's choice. */
  parent?: Id | null;
  programVersion?: string;
  onProgress?: (p: BackupProgress) => void;
  onItemError?: (e: BackupItemError) => void;
  /** How often `onProgress` is called (ms, default 1000 / 60 like restic's TTY at 60 fps → use 100). */
  progressIntervalMs?: number;
  signal?: AbortSignal;
  /** Large files read at once (restic: 2). */
  fileConcurrency?: number;
  /**
   * Chunks of one file in flight at once (being hashed, compressed, encrypted; default 8). Each
   * chunk makes two trips to a worker thread (hash, then seal), so a deeper queue keeps the
   * reading thread from waiting; memory is at most this many chunks (8 MiB each) per file.
   */
  blobConcurrency?: number;
  /** Packs uploading at once. */
  uploadConcurrency?: number;
  /**
   * Nothing is written to the repository (packs, index, snapshot) before this settles; reading,
   * chunking and encrypting go on meanwhile. If it rejects, the backup fails with its error. The
   * CLI passes the lock acquisition, so the work overlaps restic's 200 ms lock wait.
   */
  writeGate?: Promise<unknown>;
  /** Worker threads for compression/encryption/verification (default: cores − 1; 0 = none). */
  workers?: number;
  names?: NameLookup;
}

export interface FileSystemBackupOptions extends CommonBackupOptions, ExcludeOptions {
  paths: string[];
  /** Exclude patterns (`--exclude` and the lines of `--exclude-file`). */
  excludes?: string[];
  /**
   * Patterns recorded in the snapshot's `excludes` (default: `excludes`). restic 0.14 records
   * only its `--exclude` flags, not the lines of exclude files.
   */
  snapshotExcludes?: string[];
  oneFileSystem?: boolean;
  /** Re-read every file even if the parent snapshot says it is unchanged. */
  force?: boolean;
  ignoreInode?: boolean;
  ignoreCtime?: boolean;
}

// -------------------------------------------------------------------------------------------
// Small concurrency helper

class Semaphore {
  private waiting: { units: number; resolve: () => void }[] = [];
  constructor(private free: number) {}
  /** Takes `units` (a request larger than the whole capacity waits until everything is free, then takes it all). */
  async acquire(units = 1): Promise<void> {
    if (this.waiting.length === 0 && this.free >= units) {
      this.free -= units;
      return;
    }
    await new Promise<void>((resolve) => this.waiting.push({ units, resolve }));
  }
  release(units = 1): void {
    this.free += units;
    // First come, first served: a large request is not overtaken forever by small ones.
    while (this.waiting.length > 0 && this.free >= this.waiting[0].units) {
      const next = this.waiting.shift()!;
      this.free -= next.units;
      next.resolve();
    }
  }
  /**
   * Runs `fn` holding `units`. When they are free and nobody waits, `fn` starts at once and the
   * only promise added is the one that releases them (this runs once or twice per file).
   */
  with<T>(fn: () => Promise<T>, units = 1): Promise<T> {
    if (this.waiting.length === 0 && this.free >= units) {
      this.free -= units;
      return this.runHolding(fn, units);
    }
    return new Promise<void>((resolve) => this.waiting.push({ units, resolve })).then(() => this.runHolding(fn, units));
  }
  private runHolding<T>(fn: () => Promise<T>, units: number): Promise<T> {
    let result: Promise<T>;
    try {
      result = fn();
    } catch (err) {
      this.release(units);
      return Promise.reject(err);
    }
    return result.then(
      (value) => {
        this.release(units);
        return value;
      },
      (err: unknown) => {
        this.release(units);
        throw err;
      },
    );
  }
}

/** A value, or a promise of it when producing it had to wait (most files finish synchronously). */
type MaybePromise<T> = T | Promise<T>;

/**
 * `fn` over `items` with at most `limit` running, results in input order. Used per directory
 * so a walk never holds more than a few entries per level in flight (memory stays bounded by
 * depth × limit, not by the size of the tree).
 */
async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => MaybePromise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const run = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      const result = fn(items[i]);
      out[i] = result instanceof Promise ? await result : result;
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, run));
  return out;
}

/** Scratch for the "did the file grow?" probe after reading a small file. */
const oneByte = new Uint8Array(1);

/** Entries of one directory processed at once. */
const DIR_ENTRY_CONCURRENCY = 64;
/**
 * Subdirectories of one directory walked at once. Kept small: directories in flight multiply
 * with depth, while files are bounded by the archiver's small/large file limits.
 */
const SUBDIR_CONCURRENCY = 4;
/** In-memory small files are budgeted in units of this many bytes. */
const SMALL_FILE_UNIT = 64 * 1024;

function nameKey(name: Uint8Array): string {
  return Buffer.from(name.buffer, name.byteOffset, name.byteLength).toString('latin1');
}

function toError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

/** Errors from the file system that make an item unreadable (not a repository failure). */
function isSourceError(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return typeof code === 'string' && !isResticError(err);
}

// -------------------------------------------------------------------------------------------
// The archiver core, shared by all kinds of sources

interface Counters {
  filesNew: number;
  filesChanged: number;
  filesUnmodified: number;
  dirsNew: number;
  dirsChanged: number;
  dirsUnmodified: number;
  bytesProcessed: number;
  filesDone: number;
  bytesDone: number;
  totalFiles: number;
  totalBytes: number;
  scanFinished: boolean;
}

class ArchiverCore {
  readonly saver: BlobSaver;
  readonly errors: BackupItemError[] = [];
  readonly counters: Counters = {
    filesNew: 0,
    filesChanged: 0,
    filesUnmodified: 0,
    dirsNew: 0,
    dirsChanged: 0,
    dirsUnmodified: 0,
    bytesProcessed: 0,
    filesDone: 0,
    bytesDone: 0,
    totalFiles: 0,
    totalBytes: 0,
    scanFinished: false,
  };
  readonly current = new Set<string>();
  readonly polynomial: Polynomial;
  readonly largeFiles: Semaphore;
  /**
   * Small files (up to 512 KiB) in flight: at most 256 files and 32 MiB (what they hold in
   * memory while read and sealed, by a worker or, without workers, here). Workers take them in
   * batches of up to 64, so several batches must be in flight for the walking thread to fill the
   * next while the workers seal the last.
   */
  readonly smallFiles = new Semaphore(256);
  readonly smallFileBytes = new Semaphore((32 * 1024 * 1024) / SMALL_FILE_UNIT);
  private readonly blobConcurrency: number;
  private readonly assemblers: ChunkAssembler[] = [];
  /** Buffers that chunks of large files are cut into, given back by the saver (see ChunkBufferPool). */
  private readonly chunkBuffers = new ChunkBufferPool();
  private readonly started = Date.now();
  private timer?: NodeJS.Timeout;

  constructor(readonly options: CommonBackupOptions) {
    const repo = options.repository;
    this.polynomial = repo.config.chunker_polynomial;
    this.largeFiles = new Semaphore(Math.max(1, options.fileConcurrency ?? 2));
    this.blobConcurrency = Math.max(1, options.blobConcurrency ?? 8);
    this.saver = new BlobSaver({
      backend: repo.backend,
      key: repo.masterKey,
      repoVersion: repo.config.version,
      index: repo.index,
      saveIndexFile: (json) => saveUnpacked(repo, 'index', json, options.compression ?? 'auto'),
      compression: options.compression,
      packSize: options.packSize,
      uploadConcurrency: options.uploadConcurrency,
      ...(options.writeGate ? { writeGate: options.writeGate } : {}),
      recycle: (buffer) => this.chunkBuffers.give(buffer),
      dryRun: options.dryRun,
      ...(options.workers !== undefined ? { workers: options.workers } : {}),
    });
    if (options.onProgress) {
      this.timer = setInterval(() => this.reportProgress(), options.progressIntervalMs ?? 1000);
      this.timer.unref();
    }
  }

  checkAborted(): void {
    const signal = this.options.signal;
    if (!signal?.aborted) return;
    // A lost repository lock aborts with its own LOCKED error; say that rather than "interrupted".
    if (isResticError(signal.reason)) throw signal.reason;
    throw new ResticError('INTERRUPTED', 'backup interrupted');
  }

  reportProgress(): void {
    const c = this.counters;
    this.options.onProgress?.({
      secondsElapsed: (Date.now() - this.started) / 1000,
      totalFiles: c.totalFiles,
      totalBytes: c.totalBytes,
      filesDone: c.filesDone,
      bytesDone: c.bytesDone,
      errors: this.errors.length,
      currentFiles: [...this.current],
      scanFinished: c.scanFinished,
    });
  }

  stopProgress(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Stops progress and the saver's worker threads. */
  async close(): Promise<void> {
    this.stopProgress();
    await this.saver.close();
  }

  itemError(item: string, during: string, err: unknown): void {
    const e: BackupItemError = { item, during, error: toError(err) };
    this.errors.push(e);
    this.options.onItemError?.(e);
  }

  private takeAssembler(): ChunkAssembler {
    return this.assemblers.pop() ?? new ChunkAssembler(this.polynomial, undefined, this.chunkBuffers);
  }

  /**
   * Saves a sequence of chunks as data blobs, keeping a few in flight, and returns the blob
   * IDs in order. `onBytes` is told about progress. `owned`: the chunks are ours to give away.
   */
  async saveChunks(chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, onBytes?: (n: number) => void, owned = true): Promise<{ ids: Id[]; size: number }> {
    const ids: Id[] = [];
    const inFlight: Promise<void>[] = [];
    let size = 0;
    let index = 0;
    try {
      for await (const chunk of chunks) {
        this.checkAborted();
        const slot = index++;
        const length = chunk.length; // the chunk may move to a worker thread
        size += length;
        // Chunks we cut ourselves are fresh copies and may move to a worker; caller-owned
        // buffers (backupStream/backupTree with a Uint8Array) must stay intact.
        const p = this.saver.saveBlob('data', chunk, undefined, { transfer: owned }).then((r) => {
          ids[slot] = r.id;
          onBytes?.(length);
        });
        inFlight.push(p);
        if (inFlight.length >= this.blobConcurrency) await inFlight.shift();
      }
    } finally {
      // never leave a rejected promise unobserved
      const results = await Promise.allSettled(inFlight);
      for (const r of results) if (r.status === 'rejected') throw r.reason;
    }
    return { ids, size };
  }

  /** Chunks and saves an open file; closes nothing. */
  async saveFileHandle(handle: FileHandle, sizeHint: number, item: string): Promise<{ ids: Id[]; size: number }> {
    const large = sizeHint > MIN_CHUNK_SIZE;
    let asm: ChunkAssembler | undefined;
    const take = () => (asm = this.takeAssembler());
    this.current.add(item);
    try {
      return await this.saveChunks(chunkFile(handle, sizeHint, this.polynomial, take), (n) => {
        this.counters.bytesDone += n;
      });
    } finally {
      this.current.delete(item);
      if (asm && large) this.assemblers.push(asm);
    }
  }

  /** Encodes and saves a tree; returns its ID. */
  async saveTree(nodes: TreeNode[]): Promise<Id> {
    const r = await this.saver.saveBlob('tree', encodeTree(nodes));
    return r.id;
  }

  countDir(previous: TreeNode | undefined, current: TreeNode): void {
    if (!previous) this.counters.dirsNew++;
    else if (nodesEqual(previous, current)) this.counters.dirsUnmodified++;
    else this.counters.dirsChanged++;
  }

  countFile(previous: TreeNode | undefined, unchanged: boolean, size: number): void {
    if (unchanged) this.counters.filesUnmodified++;
    else if (previous) this.counters.filesChanged++;
    else this.counters.filesNew++;
    this.counters.filesDone++;
    this.counters.bytesProcessed += size;
  }

  /** Flushes packs and index, then writes the snapshot. */
  async finish(snapshot: Omit<Snapshot, 'tree' | 'summary'>, root: Id, backupStart: GoTime): Promise<BackupResult> {
    this.checkAborted();
    await this.saver.flush();
    // Without a valid lock (or after an interrupt) no snapshot may be written.
    this.checkAborted();
    this.stopProgress();
    const end = GoTime.now();
    const c = this.counters;
    const s = this.saver.stats;
    const summary: BackupSummary = {
      filesNew: c.filesNew,
      filesChanged: c.filesChanged,
      filesUnmodified: c.filesUnmodified,
      dirsNew: c.dirsNew,
      dirsChanged: c.dirsChanged,
      dirsUnmodified: c.dirsUnmodified,
      dataBlobs: s.dataBlobs,
      treeBlobs: s.treeBlobs,
      dataAdded: s.dataBytes + s.treeBytes,
      dataAddedPacked: s.dataBytesInRepo + s.treeBytesInRepo,
      totalFilesProcessed: c.filesNew + c.filesChanged + c.filesUnmodified,
      totalBytesProcessed: c.bytesProcessed,
      totalDuration: (Date.now() - this.started) / 1000,
      backupStart,
      backupEnd: end,
    };
    // The snapshot stores the same figures, with restic's uint64 byte counts kept exact.
    const { totalDuration: _duration, dataAdded, dataAddedPacked, totalBytesProcessed, ...counts } = summary;
    const snapshotSummary: SnapshotSummary = {
      ...counts,
      dataAdded: BigInt(dataAdded),
      dataAddedPacked: BigInt(dataAddedPacked),
      totalBytesProcessed: BigInt(totalBytesProcessed),
    };
    const full: Snapshot = { ...snapshot, tree: root, summary: snapshotSummary };
    let snapshotId: Id | undefined;
    if (!this.options.dryRun) {
      snapshotId = await saveUnpacked(this.options.repository, 'snapshot', encodeSnapshotBytes(full), this.options.compression ?? 'auto');
      full.id = snapshotId;
    }
    const result: BackupResult = { snapshot: full, summary, errors: this.errors, saver: s };
    if (snapshotId) result.snapshotId = snapshotId;
    if (snapshot.parent) result.parentId = snapshot.parent;
    return result;
  }
}

function currentUser(): { username: string; uid: number; gid: number } {
  try {
    const u = userInfo();
    return { username: u.username, uid: u.uid, gid: u.gid };
  } catch {
    return { username: '', uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 };
  }
}

function baseSnapshot(options: CommonBackupOptions, paths: string[], time: GoTime, parent: Id | undefined): Omit<Snapshot, 'tree' | 'summary'> {
  const user = currentUser();
  const sn: Omit<Snapshot, 'tree' | 'summary'> = {
    time,
    paths,
    hostname: options.hostname ?? osHostname(),
    username: user.username,
    programVersion: options.programVersion ?? PROGRAM_VERSION,
  };
  if (user.uid > 0) sn.uid = user.uid;
  if (user.gid > 0) sn.gid = user.gid;
  if (parent) sn.parent = parent;
  if (options.tags && options.tags.length > 0) sn.tags = [...options.tags];
  return sn;
}

// -------------------------------------------------------------------------------------------
// Parent snapshot

/** restic's choice: `--parent`, else the latest snapshot of this host with the same paths (not newer than `time`). */
export async function findParentSnapshot(
  repo: ArchiveRepository & { listSnapshots(): Promise<{ id: Id; snapshot: Snapshot }[]> },
  hostname: string,
  paths: readonly string[],
  time: GoTime,
): Promise<{ id: Id; snapshot: Snapshot } | undefined> {
  let best: { id: Id; snapshot: Snapshot } | undefined;
  const want = [...paths].sort();
  for (const entry of await repo.listSnapshots()) {
    const sn = entry.snapshot;
    if ((sn.hostname ?? '') !== hostname) continue;
    if (sn.time.isAfter(time)) continue;
    const have = new Set(sn.paths ?? []);
    if (!want.every((p) => have.has(p))) continue;
    if (!best || sn.time.compare(best.snapshot.time) >= 0) best = entry;
  }
  return best;
}

async function loadParentChildren(core: ArchiverCore, subtree: Id | undefined): Promise<Map<string, TreeNode> | undefined> {
  if (!subtree) return undefined;
  try {
    const tree = await core.options.repository.loadTree(subtree, { keepNodeText: true });
    const map = new Map<string, TreeNode>();
    for (const n of tree.nodes) map.set(nameKey(n.name), n);
    return map;
  } catch {
    // An unreadable parent only costs speed: everything is read again.
    return undefined;
  }
}

// -------------------------------------------------------------------------------------------
// Local file system

class FileSystemArchiver {
  private readonly excludes: ExcludeFilter;
  private readonly names: NameLookup;
  private allowedDevices?: Set<bigint>;

  constructor(
    private readonly core: ArchiverCore,
    private readonly options: FileSystemBackupOptions,
  ) {
    this.excludes = new ExcludeFilter(options);
    this.names = options.names ?? new SystemNameLookup();
  }

  async setupOneFileSystem(targets: string[]): Promise<void> {
    if (!this.options.oneFileSystem) return;
    this.allowedDevices = new Set();
    for (const t of targets) {
      try {
        this.allowedDevices.add((await fs.lstat(t, { bigint: true })).dev);
      } catch {
        // reported when the target itself is saved
      }
    }
  }

  /** The root tree for the target tree; returns its ID. */
  async saveTargetTree(tree: TargetTree, previous: Map<string, TreeNode> | undefined): Promise<Id> {
    const names = [...tree.children.keys()].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    const nodes = await Promise.all(
      names.map(async (name): Promise<TreeNode | undefined> => {
        const child = tree.children.get(name)!;
        const nameBytes = Buffer.from(name);
        const prev = previous?.get(nameKey(nameBytes));
        if (child.path !== undefined) {
          const abs = path.resolve(child.path);
          return this.saveItem(Buffer.from(abs), nameBytes, prev, abs, true);
        }
        const meta = path.resolve(child.metaPath!);
        let st: BigIntStats;
        try {
          st = await fs.lstat(meta, { bigint: true });
        } catch (err) {
          if (!isSourceError(err)) throw err;
          this.core.itemError(meta, 'lstat', err);
          return undefined;
        }
        const node = nodeFromStats(nameBytes, st, this.names);
        if (!addExtendedAttributes(node, meta, (during, err) => this.core.itemError(meta, during, err))) return undefined;
        const prevChildren = prev?.type === 'dir' ? await loadParentChildren(this.core, prev.subtree) : undefined;
        node.subtree = await this.saveTargetTree(child, prevChildren);
        this.core.countDir(prev, node);
        return node;
      }),
    );
    return this.core.saveTree(nodes.filter((n): n is TreeNode => n !== undefined));
  }

  private fileUnchanged(prev: TreeNode | undefined, st: BigIntStats): boolean {
    if (this.options.force || !prev || prev.type !== 'file' || prev.content === null) return false;
    const mtime = GoTime.fromUnixNanos(st.mtimeNs);
    if (prev.mtime.unixSeconds !== mtime.unixSeconds || prev.mtime.nanos !== mtime.nanos) return false;
    if (!this.options.ignoreCtime) {
      const ctime = GoTime.fromUnixNanos(st.ctimeNs);
      if (prev.ctime.unixSeconds !== ctime.unixSeconds || prev.ctime.nanos !== ctime.nanos) return false;
    }
    if (!this.options.ignoreInode && prev.inode !== st.ino) return false;
    if (prev.size !== st.size) return false;
    // Reuse only content the repository (still) has.
    const index = this.core.options.repository.index;
    return prev.content.every((id) => index.has('data', id));
  }

  /**
   * Saves one file-system item; returns its node, or undefined when excluded or unreadable.
   * `display` is the path as reported in errors.
   */
  saveItem(fsPath: Buffer, name: Uint8Array, prev: TreeNode | undefined, display: string, isTarget = false, subdirs?: Semaphore): MaybePromise<TreeNode | undefined> {
    this.core.checkAborted();
    if (!isTarget && this.excludes.active && this.excludes.excludedByName(display)) return undefined;
    let st: BigIntStats;
    try {
      // Synchronous metadata calls: from the page cache they cost microseconds, while each
      // promise-based call costs a thread-pool round trip (this dominated many-small-files runs).
      st = lstatSync(fsPath, { bigint: true });
    } catch (err) {
      if (!isSourceError(err)) throw err;
      this.core.itemError(display, 'lstat', err);
      return undefined;
    }
    const node = nodeFromStats(name, st, this.names);
    // restic ignores sockets: they cannot be restored meaningfully.
    if (node.type === 'socket') return undefined;
    // Unchanged since the parent snapshot (checked when the tree is encoded): reuse its text.
    if (prev !== undefined) encodeLikePrevious(node, prev);
    if (!isTarget && this.excludes.excludedBySize(node.type === 'dir', Number(st.size))) return undefined;
    if (!addExtendedAttributes(node, fsPath, (during, err) => this.core.itemError(display, during, err))) return undefined;
    if (this.allowedDevices && !isTarget && !this.allowedDevices.has(st.dev)) {
      // --one-file-system: other file systems are left out (restic keeps only their mount point dir).
      if (node.type !== 'dir') return undefined;
      return this.saveMountPoint(node, prev);
    }
    switch (node.type) {
      case 'dir':
        return subdirs ? subdirs.with(() => this.saveDir(fsPath, node, prev, display)) : this.saveDir(fsPath, node, prev, display);
      case 'file':
        return this.saveFile(fsPath, node, st, prev, display);
      case 'symlink':
        return this.saveSymlink(fsPath, node, display);
      default:
        return node;
    }
  }

  /** A directory on another file system under --one-file-system: kept, empty. */
  private async saveMountPoint(node: TreeNode, prev: TreeNode | undefined): Promise<TreeNode> {
    node.subtree = await this.core.saveTree([]);
    this.core.countDir(prev, node);
    return node;
  }

  private async saveSymlink(fsPath: Buffer, node: TreeNode, display: string): Promise<TreeNode | undefined> {
    try {
      node.linkTarget = await fs.readlink(fsPath, { encoding: 'buffer' });
    } catch (err) {
      if (!isSourceError(err)) throw err;
      this.core.itemError(display, 'readlink', err);
      return undefined;
    }
    return node;
  }

  private async saveDir(fsPath: Buffer, node: TreeNode, prev: TreeNode | undefined, display: string): Promise<TreeNode | undefined> {
    let entries: Buffer[];
    try {
      entries = readdirSync(fsPath, { encoding: 'buffer' });
    } catch (err) {
      if (!isSourceError(err)) throw err;
      this.core.itemError(display, 'readdir', err);
      return undefined;
    }
    entries.sort(Buffer.compare);
    const prevChildren = prev?.type === 'dir' ? await loadParentChildren(this.core, prev.subtree) : undefined;
    const sep = Buffer.from('/');
    const subdirs = new Semaphore(SUBDIR_CONCURRENCY);
    const children = await mapLimit(entries, DIR_ENTRY_CONCURRENCY, (entry) => {
      const childPath = Buffer.concat([fsPath, sep, entry]);
      const childDisplay = display === '/' ? '/' + entry.toString() : display + '/' + entry.toString();
      return this.saveItem(childPath, entry, prevChildren?.get(nameKey(entry)), childDisplay, false, subdirs);
    });
    node.subtree = await this.core.saveTree(children.filter((n): n is TreeNode => n !== undefined));
    this.core.countDir(prev, node);
    return node;
  }

  private saveFile(fsPath: Buffer, node: TreeNode, st: BigIntStats, prev: TreeNode | undefined, display: string): MaybePromise<TreeNode | undefined> {
    const size = Number(st.size);
    if (this.fileUnchanged(prev, st)) {
      node.content = [...prev!.content!];
      this.core.counters.bytesDone += size;
      this.core.countFile(prev, true, size);
      return node;
    }
    // The semaphore bounds how many files are in memory at once (reads are synchronous).
    if (size <= MIN_CHUNK_SIZE) {
      const units = Math.max(1, Math.ceil(size / SMALL_FILE_UNIT));
      return this.core.smallFileBytes.with(() => this.core.smallFiles.with(() => this.saveSmallFile(fsPath, node, size, prev, display)), units);
    }
    return this.core.largeFiles.with(() => this.saveLargeFile(fsPath, node, size, prev, display));
  }

  /**
   * A file no larger than the minimum chunk size is one chunk: read it synchronously in one
   * call (cheap from the page cache) and hand the bytes to the blob saver. If it grew since
   * lstat, the normal chunking path takes over.
   */
  private saveSmallFile(fsPath: Buffer, node: TreeNode, size: number, prev: TreeNode | undefined, display: string): Promise<TreeNode | undefined> {
    // Read, hashed and sealed by a worker thread when there is one.
    return this.core.saver.saveSmallFile(fsPath, size).then((inWorker) => {
      switch (inWorker.kind) {
        case 'saved':
          this.core.counters.bytesDone += inWorker.length;
          node.content = inWorker.length === 0 ? [] : [inWorker.blob.id];
          this.core.countFile(prev, false, size);
          return node;
        case 'grew':
          return this.saveLargeFile(fsPath, node, size, prev, display);
        case 'error':
          this.core.itemError(display, 'read', inWorker.error);
          return undefined;
        case 'unavailable':
          return this.readSmallFileHere(fsPath, node, size, prev, display);
      }
    });
  }

  /** Without a ready worker pool: reads the small file on this thread and saves it as a blob. */
  private async readSmallFileHere(fsPath: Buffer, node: TreeNode, size: number, prev: TreeNode | undefined, display: string): Promise<TreeNode | undefined> {
    let data: Uint8Array;
    let grew = false;
    try {
      const fd = openSync(fsPath, 'r');
      try {
        // Exactly `size` bytes in a buffer of its own (so it can move to a worker without a copy).
        const buf = new Uint8Array(size);
        let got = 0;
        while (got < size) {
          const n = readSync(fd, buf, got, size - got, null);
          if (n === 0) break;
          got += n;
        }
        if (got === size && readSync(fd, oneByte, 0, 1, null) > 0) grew = true;
        data = got === size ? buf : buf.slice(0, got);
      } finally {
        closeSync(fd);
      }
    } catch (err) {
      if (!isSourceError(err)) throw err;
      this.core.itemError(display, 'read', err);
      return undefined;
    }
    // It grew while we looked: chunk it properly from the start.
    if (grew) return this.saveLargeFile(fsPath, node, size, prev, display);
    const saved = await this.core.saveChunks(data.length > 0 ? [data] : [], (n) => (this.core.counters.bytesDone += n));
    node.content = saved.ids;
    this.core.countFile(prev, false, size);
    return node;
  }

  private async saveLargeFile(fsPath: Buffer, node: TreeNode, size: number, prev: TreeNode | undefined, display: string): Promise<TreeNode | undefined> {
    let handle: FileHandle;
    try {
      handle = await fs.open(fsPath, 'r');
    } catch (err) {
      if (!isSourceError(err)) throw err;
      this.core.itemError(display, 'open', err);
      return undefined;
    }
    try {
      const saved = await this.core.saveFileHandle(handle, size, display);
      node.content = saved.ids;
      this.core.countFile(prev, false, size);
      return node;
    } catch (err) {
      if (!isSourceError(err)) throw err;
      this.core.itemError(display, 'read', err);
      return undefined;
    } finally {
      await handle.close().catch(() => undefined);
    }
  }

  /** Counts files and bytes for progress totals (restic's scanner), without blocking the backup. */
  async scan(targets: string[]): Promise<void> {
    const c = this.core.counters;
    const walk = async (p: string): Promise<void> => {
      if (this.core.options.signal?.aborted) return;
      let st;
      try {
        st = await fs.lstat(p);
      } catch {
        return;
      }
      if (st.isDirectory()) {
        let names: string[];
        try {
          names = await fs.readdir(p);
        } catch {
          return;
        }
        for (const n of names) {
          const child = p === '/' ? '/' + n : p + '/' + n;
          if (this.excludes.active && this.excludes.excludedByName(child)) continue;
          await walk(child);
        }
      } else if (st.isFile()) {
        if (this.excludes.excludedBySize(false, st.size)) return;
        c.totalFiles++;
        c.totalBytes += st.size;
      }
    };
    for (const t of targets) await walk(path.resolve(t));
    c.scanFinished = true;
  }
}

/** Backs up local paths and writes a snapshot (restic's `backup PATH...`). */
export async function backup(options: FileSystemBackupOptions & { repository: ArchiveRepository & { listSnapshots(): Promise<{ id: Id; snapshot: Snapshot }[]> } }): Promise<BackupResult> {
  if (options.paths.length === 0) throw new ResticError('USAGE', 'nothing to back up, please specify target files/dirs');
  await ensureIndex(options.repository);
  const backupStart = GoTime.now();
  const time = options.time ?? backupStart;
  const resolved = await resolveTargets(options.paths);
  for (const t of resolved) {
    try {
      await fs.lstat(t);
    } catch (err) {
      throw new ResticError('IO', `backup target ${t} does not exist or cannot be accessed: ${(err as Error).message}`, { cause: err });
    }
  }
  const absPaths = options.paths.map((p) => path.resolve(p));
  const hostname = options.hostname ?? osHostname();
  let parentId: Id | undefined;
  let parentTree: Id | undefined;
  if (options.parent) {
    parentId = options.parent;
    const found = (await options.repository.listSnapshots()).find((e) => e.id === options.parent);
    if (!found) throw new ResticError('SNAPSHOT_NOT_FOUND', `parent snapshot ${options.parent} not found`);
    parentTree = found.snapshot.tree;
  } else if (options.parent !== null && !options.force) {
    const found = await findParentSnapshot(options.repository, hostname, absPaths, time);
    if (found) {
      parentId = found.id;
      parentTree = found.snapshot.tree;
    }
  }
  const core = new ArchiverCore(options);
  try {
    const fsa = new FileSystemArchiver(core, options);
    await fsa.setupOneFileSystem(resolved);
    const scan = options.onProgress ? fsa.scan(resolved).catch(() => undefined) : Promise.resolve();
    const targetTree = await buildTargetTree(resolved);
    const previous = await loadParentChildren(core, parentTree);
    const root = await fsa.saveTargetTree(targetTree, previous);
    await scan;
    const sn = baseSnapshot({ ...options, hostname }, absPaths, time, parentId);
    const recorded = options.snapshotExcludes ?? options.excludes;
    if (recorded && recorded.length > 0) sn.excludes = [...recorded];
    const result = await core.finish(sn, root, backupStart);
    core.reportProgress();
    return result;
  } finally {
    await core.close();
  }
}

// -------------------------------------------------------------------------------------------
// A single stream (stdin) or buffer as a file

export interface StreamBackupOptions extends CommonBackupOptions {
  /** File name inside the snapshot (restic's --stdin-filename, default `stdin`). */
  filename?: string;
  /** Go file mode of the file node (default 0644). */
  mode?: number;
}

/** Backs up one stream (e.g. stdin) or buffer as a file at the snapshot root, as `restic backup --stdin`. */
export async function backupStream(source: AsyncIterable<Uint8Array> | Uint8Array, options: StreamBackupOptions): Promise<BackupResult> {
  const filename = options.filename ?? 'stdin';
  if (filename === '' || filename.includes('/')) throw new ResticError('USAGE', `invalid stdin filename ${JSON.stringify(filename)}: must be a plain file name`);
  await ensureIndex(options.repository);
  const backupStart = GoTime.now();
  const time = options.time ?? backupStart;
  const core = new ArchiverCore(options);
  try {
    const fromBuffer = source instanceof Uint8Array;
    const chunks = fromBuffer ? chunkBytes(source, core.polynomial) : chunkStream(source, core.polynomial);
    core.current.add(filename);
    const saved = await core.saveChunks(chunks, (n) => (core.counters.bytesDone += n), !fromBuffer);
    core.current.delete(filename);
    const user = currentUser();
    const node = newNode({
      name: filename,
      type: 'file',
      mode: options.mode ?? 0o644,
      mtime: time,
      atime: time,
      ctime: time,
      uid: user.uid,
      gid: user.gid,
      size: BigInt(saved.size),
      content: saved.ids,
    });
    core.countFile(undefined, false, saved.size);
    const root = await core.saveTree([node]);
    const sn = baseSnapshot(options, ['/' + filename], time, options.parent ?? undefined);
    return await core.finish(sn, root, backupStart);
  } finally {
    await core.close();
  }
}

// -------------------------------------------------------------------------------------------
// A tree given as data

export interface VirtualMeta {
  /** Go file mode permission/special bits (type bits are set from the entry type). Default 0644 / 0755. */
  mode?: number;
  mtime?: GoTime;
  ctime?: GoTime;
  atime?: GoTime;
  uid?: number;
  gid?: number;
  user?: string;
  group?: string;
}

export type VirtualEntry =
  | ({ type: 'file'; content: Uint8Array | string | AsyncIterable<Uint8Array> | (() => AsyncIterable<Uint8Array>) } & VirtualMeta)
  | ({ type: 'dir'; entries: Record<string, VirtualEntry> | Map<string | Uint8Array, VirtualEntry> } & VirtualMeta)
  | ({ type: 'symlink'; target: string | Uint8Array } & VirtualMeta);

export interface TreeBackupOptions extends CommonBackupOptions {
  /** Snapshot `paths` (default `["/"]`). */
  paths?: string[];
}

const GO_DIR = 0x8000_0000;
const GO_SYMLINK = 0x0800_0000;

/** Backs up a tree described as data: the root's entries become the snapshot's root tree. */
export async function backupTree(root: Record<string, VirtualEntry> | Map<string | Uint8Array, VirtualEntry>, options: TreeBackupOptions): Promise<BackupResult> {
  await ensureIndex(options.repository);
  const backupStart = GoTime.now();
  const time = options.time ?? backupStart;
  const core = new ArchiverCore(options);
  const saveEntries = async (entries: Record<string, VirtualEntry> | Map<string | Uint8Array, VirtualEntry>, where: string): Promise<Id> => {
    const list: [Uint8Array, VirtualEntry][] =
      entries instanceof Map
        ? [...entries].map(([k, v]) => [typeof k === 'string' ? Buffer.from(k) : k, v])
        : Object.entries(entries).map(([k, v]) => [Buffer.from(k), v]);
    const nodes: TreeNode[] = [];
    for (const [name, entry] of list) {
      const display = where + '/' + Buffer.from(name).toString();
      if (name.length === 0 || name.includes(0x2f)) throw new ResticError('USAGE', `invalid entry name ${JSON.stringify(display)}: must be non-empty without '/'`);
      const mtime = entry.mtime ?? time;
      const base = {
        name,
        mtime,
        atime: entry.atime ?? mtime,
        ctime: entry.ctime ?? mtime,
        uid: entry.uid ?? 0,
        gid: entry.gid ?? 0,
        user: entry.user ?? '',
        group: entry.group ?? '',
      };
      if (entry.type === 'dir') {
        const subtree = await saveEntries(entry.entries, display);
        const node = newNode({ ...base, type: 'dir', mode: (GO_DIR | (entry.mode ?? 0o755)) >>> 0, subtree });
        core.countDir(undefined, node);
        nodes.push(node);
      } else if (entry.type === 'symlink') {
        const target = typeof entry.target === 'string' ? Buffer.from(entry.target) : entry.target;
        nodes.push(newNode({ ...base, type: 'symlink', mode: (GO_SYMLINK | (entry.mode ?? 0o777)) >>> 0, linkTarget: target, links: 1n }));
      } else {
        const c = entry.content;
        const chunks =
          typeof c === 'string'
            ? chunkBytes(Buffer.from(c), core.polynomial)
            : c instanceof Uint8Array
              ? chunkBytes(c, core.polynomial)
              : chunkStream(typeof c === 'function' ? c() : c, core.polynomial);
        core.current.add(display);
        // string content is encoded into a fresh buffer; a caller's Uint8Array is not ours
        const saved = await core.saveChunks(chunks, (n) => (core.counters.bytesDone += n), !(c instanceof Uint8Array));
        core.current.delete(display);
        core.countFile(undefined, false, saved.size);
        nodes.push(newNode({ ...base, type: 'file', mode: entry.mode ?? 0o644, size: BigInt(saved.size), links: 1n, content: saved.ids }));
      }
    }
    return core.saveTree(nodes);
  };
  try {
    const rootId = await saveEntries(root, '');
    const sn = baseSnapshot(options, options.paths ?? ['/'], time, options.parent ?? undefined);
    return await core.finish(sn, rootId, backupStart);
  } finally {
    await core.close();
  }
}
