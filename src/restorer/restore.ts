/**
 * Restores a snapshot tree (or a subtree) into a local directory, the way restic 0.14's
 * restorer does:
 *
 * 1. one traversal selects nodes (include/exclude patterns, like restic's SelectFilter) and
 *    records them in restic's order, a directory's "leave" after its contents;
 * 2. directories are created (0700) and regular files written in pack order (each needed pack
 *    range read once, its blobs written at their offsets into every file using them);
 *    of several hard links (links > 1, same inode and device) only the first is written;
 * 3. a second pass in the same order creates empty files, hard links, symlinks (dangling
 *    ones too), fifos and devices, and applies ownership (as root), permissions and times;
 *    a directory's metadata is applied when it is left, i.e. after its contents;
 * 4. timestamps with nanoseconds beyond what Node's utimes keeps are set exactly at the end.
 *
 * Failures of single files do not stop the restore (restic: "ignoring error for …"): they are
 * collected in the summary, a file that failed half-way is removed, and the caller decides
 * (the CLI exits non-zero). Sockets are skipped, as restic does.
 */
import { closeSync, openSync, promises as fsp } from 'node:fs';
import { resolve } from 'node:path';
import { ResticError, isResticError, type ErrorCode } from '../errors.js';
import { shortId, type Id } from '../format/id.js';
import { utf8Text } from '../format/json.js';
import type { TreeNode } from '../format/node.js';
import type { Repository } from '../repository/repository.js';
import { DecodeWorkerPool } from './decode-worker.js';
import { verifyFileContent } from './file-writer.js';
import { restoreFileContents } from './pack-restorer.js';
import { matchList, parsePatterns, type PathPattern } from './filter.js';
import { applyExactTimes, createSpecial, createSymlink, restoreMetadataSync, type ExactTime } from './metadata.js';
import { joinPath, sortedNodes } from './walker.js';

export interface RestoreOptions {
  /** Tree to restore (a snapshot's root tree or the tree of `snapshot:subpath`). */
  tree: Id;
  /** Directory to restore into (created when missing). */
  target: string;
  /** restic `--include` patterns (mutually exclusive with `exclude`). */
  include?: string[];
  /** restic `--exclude` patterns. */
  exclude?: string[];
  /** restic `--iinclude`: include patterns matched case-insensitively. */
  includeInsensitive?: string[];
  /** restic `--iexclude`: exclude patterns matched case-insensitively. */
  excludeInsensitive?: string[];
  /** Re-read every restored file and compare with its blob IDs. */
  verify?: boolean;
  /**
   * Bytes of pack ranges and decoded blobs held at once while writing file content (default
   * 24 MiB). Files are written in pack order, many at once (see pack-restorer.ts).
   */
  memoryBudget?: number;
  /**
   * Worker threads decoding blobs (MAC, decrypt, decompress, hash) beside the main thread,
   * which reads and writes. Default 0 (decode on the main thread): on the shared 2-core test
   * machine workers did not pay for their start-up; try `defaultDecodeWorkers()` on big
   * restores with idle cores.
   */
  workers?: number;
  /** Set timestamps to the nanosecond (default true; false keeps microseconds only). */
  exactTimes?: boolean;
  onProgress?: (event: RestoreProgress) => void;
  signal?: AbortSignal;
}

export interface RestoreProgress {
  phase: 'scan' | 'content' | 'metadata' | 'verify' | 'done';
  filesTotal: number;
  bytesTotal: number;
  filesRestored: number;
  bytesRestored: number;
  filesVerified: number;
}

export interface RestoreFailure {
  /** Path inside the snapshot, `/dir/file` (display form). */
  path: string;
  code: ErrorCode;
  message: string;
}

export interface RestoreSummary {
  target: string;
  /** Regular files restored (hard links and empty files included). */
  files: number;
  dirs: number;
  /** Symlinks, fifos and devices. */
  specials: number;
  bytes: number;
  /** Files verified (when `verify` was set). */
  verified: number;
  errors: RestoreFailure[];
}

type Step =
  | { kind: 'enter'; node: TreeNode; location: Uint8Array }
  | { kind: 'leave'; node: TreeNode; location: Uint8Array }
  | { kind: 'node'; node: TreeNode; location: Uint8Array };

/** What the content pass keeps of a file node (not the node itself). */
interface FileToWrite {
  location: Uint8Array;
  content: readonly Id[];
  size: bigint;
}

type SelectFilter = (location: string, node: TreeNode) => { selected: boolean; childMayBeSelected: boolean };

interface PatternSet {
  exact: PathPattern[];
  /** Patterns already lower-cased, matched against the lower-cased path. */
  folded: PathPattern[];
}

function matchSet(set: PatternSet, location: string): { matched: boolean; childMayMatch: boolean } {
  const a = matchList(set.exact, location);
  const b = matchList(set.folded, location.toLowerCase());
  return { matched: a.matched || b.matched, childMayMatch: a.childMayMatch || b.childMayMatch };
}

/** restic's SelectFilter for `restore`: excludes win over everything below them; includes let parents through. */
function selectFilter(include: PatternSet, exclude: PatternSet): SelectFilter {
  if (exclude.exact.length + exclude.folded.length > 0) {
    return (location, node) => {
      const selected = !matchSet(exclude, location).matched;
      return { selected, childMayBeSelected: selected && node.type === 'dir' };
    };
  }
  if (include.exact.length + include.folded.length > 0) {
    return (location, node) => {
      const m = matchSet(include, location);
      return { selected: m.matched, childMayBeSelected: m.childMayMatch && node.type === 'dir' };
    };
  }
  return (_location, node) => ({ selected: true, childMayBeSelected: node.type === 'dir' });
}

function isValidName(name: Uint8Array): boolean {
  if (name.length === 0 || name.includes(0x2f) || name.includes(0)) return false;
  const s = Buffer.from(name).toString('latin1');
  return s !== '.' && s !== '..';
}

function failureFrom(path: string, err: unknown): RestoreFailure {
  if (isResticError(err)) return { path, code: err.code, message: err.message };
  const e = err as NodeJS.ErrnoException;
  return { path, code: 'IO', message: e?.message ?? String(err) };
}

function hardlinkKey(node: TreeNode): string {
  return `${node.inode}:${node.deviceId}`;
}

/** Restores `options.tree` into `options.target`. Throws only for problems with the whole restore. */
export async function restoreTree(repo: Repository, options: RestoreOptions): Promise<RestoreSummary> {
  const include: PatternSet = {
    exact: parsePatterns(options.include ?? []),
    folded: parsePatterns((options.includeInsensitive ?? []).map((p) => p.toLowerCase())),
  };
  const exclude: PatternSet = {
    exact: parsePatterns(options.exclude ?? []),
    folded: parsePatterns((options.excludeInsensitive ?? []).map((p) => p.toLowerCase())),
  };
  if (include.exact.length + include.folded.length > 0 && exclude.exact.length + exclude.folded.length > 0) {
    throw new ResticError('USAGE', 'exclude and include patterns are mutually exclusive');
  }
  const select = selectFilter(include, exclude);
  const target = resolve(options.target);
  const targetBytes = Buffer.from(target, 'utf8');
  const abs = (location: Uint8Array): Buffer => Buffer.concat([targetBytes, location]);
  const errors: RestoreFailure[] = [];
  const summary: RestoreSummary = { target, files: 0, dirs: 0, specials: 0, bytes: 0, verified: 0, errors };
  const progress: RestoreProgress = { phase: 'scan', filesTotal: 0, bytesTotal: 0, filesRestored: 0, bytesRestored: 0, filesVerified: 0 };
  const emit = (): void => options.onProgress?.({ ...progress });
  const checkAbort = (): void => {
    if (options.signal?.aborted) throw new ResticError('INTERRUPTED', 'restore interrupted');
  };

  // 1. traversal: what to restore, in restic's order. It runs again for the metadata pass (and
  // for --verify) instead of keeping every node: only the files to write and the directories to
  // create are kept between passes (trees come from the repository's cache, or are re-read).
  let reportInvalid = true;
  const walkSteps = async function* (treeId: Id, location: Uint8Array): AsyncGenerator<Step, boolean> {
    checkAbort();
    const tree = await repo.loadTree(treeId);
    let hasRestored = false;
    for (const node of sortedNodes(tree)) {
      const nodeLocation = joinPath(location, node.name);
      if (!isValidName(node.name)) {
        if (reportInvalid) errors.push({ path: utf8Text(location), code: 'CORRUPT', message: `invalid child node name ${JSON.stringify(node.nameText)} in tree ${shortId(treeId)}` });
        continue;
      }
      if (node.type === 'socket') continue;
      const shown = utf8Text(nodeLocation);
      const { selected, childMayBeSelected } = select(shown, node);
      if (selected) hasRestored = true;
      if (node.type === 'dir') {
        if (!node.subtree) throw new ResticError('CORRUPT', `Dir without subtree in tree ${shortId(treeId)} (${shown})`);
        if (selected) yield { kind: 'enter', node, location: nodeLocation };
        let childRestored = false;
        if (childMayBeSelected) {
          childRestored = yield* walkSteps(node.subtree, nodeLocation);
          if (childRestored) hasRestored = true;
        }
        if (selected || childRestored) yield { kind: 'leave', node, location: nodeLocation };
        continue;
      }
      if (selected) yield { kind: 'node', node, location: nodeLocation };
    }
    return hasRestored;
  };
  const allSteps = (): AsyncGenerator<Step, boolean> => walkSteps(options.tree, new Uint8Array([0x2f]));
  await repo.loadIndex();
  const dirsToCreate: Uint8Array[] = [];
  const firstLink = new Map<string, Uint8Array>();
  const toWrite: FileToWrite[] = [];
  for await (const step of allSteps()) {
    if (step.kind === 'enter') {
      dirsToCreate.push(step.location);
      continue;
    }
    if (step.kind !== 'node') continue;
    const node = step.node;
    if (node.type !== 'file') continue;
    progress.filesTotal++;
    if (node.size === 0n) continue;
    if (node.links > 1n) {
      const key = hardlinkKey(node);
      if (firstLink.has(key)) continue;
      firstLink.set(key, step.location);
    }
    progress.bytesTotal += Number(node.size);
    toWrite.push({ location: step.location, content: node.content ?? [], size: node.size });
  }
  reportInvalid = false;

  // 2. directories and file content
  await fsp.mkdir(target, { recursive: true, mode: 0o700 });
  for (const location of dirsToCreate) {
    try {
      await fsp.mkdir(abs(location), { recursive: true, mode: 0o700 });
    } catch (err) {
      errors.push(failureFrom(utf8Text(location), err));
    }
  }
  dirsToCreate.length = 0;
  progress.phase = 'content';
  emit();

  const workerCount = options.workers ?? 0;
  const pool = workerCount > 0 && toWrite.length > 0 ? new DecodeWorkerPool(repo.masterKey, workerCount) : undefined;
  /** Locations (latin1 keys) of files whose content failed: skipped by the metadata pass. */
  const failed = new Set<string>();
  const locationKey = (location: Uint8Array): string => Buffer.from(location.buffer, location.byteOffset, location.byteLength).toString('latin1');
  // a node's parent exists unless include patterns skipped it or its mkdir failed: made once
  const madeParents = new Set<string>();
  const ensureParent = async (location: Uint8Array): Promise<void> => {
    const parent = parentOf(location);
    const key = locationKey(parent);
    if (madeParents.has(key)) return;
    await fsp.mkdir(abs(parent), { recursive: true, mode: 0o700 });
    madeParents.add(key);
  };
  let contentFailures: Map<number, unknown>;
  try {
    contentFailures = await restoreFileContents(
      repo,
      toWrite.map((step) => ({
        path: abs(step.location),
        content: step.content,
        prepare: () => ensureParent(step.location),
      })),
      {
        pool,
        memoryBudget: options.memoryBudget,
        checkAbort,
        onBytes: (n) => {
          progress.bytesRestored += n;
          emit();
        },
        onFileDone: (index) => {
          progress.filesRestored++;
          summary.bytes += Number(toWrite[index].size);
          emit();
        },
      },
    );
  } finally {
    await pool?.close();
  }
  for (const [index, err] of [...contentFailures].sort((a, b) => a[0] - b[0])) {
    failed.add(locationKey(toWrite[index].location));
    errors.push(failureFrom(utf8Text(toWrite[index].location), err));
  }

  // 3. special files, hard links, empty files and metadata; directories when left
  progress.phase = 'metadata';
  emit();
  const exact: ExactTime[] = [];
  const linked = new Map<string, Uint8Array>(firstLink);
  toWrite.length = 0;
  let sinceYield = 0;
  for await (const step of allSteps()) {
    checkAbort();
    // the metadata calls are synchronous: let timers (lock refresh) and I/O run now and then
    if (++sinceYield === 1000) {
      sinceYield = 0;
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    if (step.kind === 'enter') continue;
    const node = step.node;
    const path = abs(step.location);
    const shown = utf8Text(step.location);
    try {
      if (step.kind === 'leave') {
        const job = restoreMetadataSync(node, path);
        if (job) exact.push(job);
        summary.dirs++;
        continue;
      }
      if (failed.has(locationKey(step.location))) continue;
      await ensureParent(step.location);
      switch (node.type) {
        case 'file': {
          const key = hardlinkKey(node);
          if (node.links > 1n && node.size === 0n && !linked.has(key)) {
            // the first of a group of empty hard links is created, the others link to it
            linked.set(key, step.location);
            await createEmpty(path);
          } else if (node.size === 0n && node.links <= 1n) {
            await createEmpty(path);
          } else if (node.links > 1n && linked.has(key) && Buffer.compare(Buffer.from(linked.get(key)!), Buffer.from(step.location)) !== 0) {
            const first = linked.get(key)!;
            if (failed.has(locationKey(first))) {
              throw new ResticError('IO', `hard link target ${utf8Text(first)} was not restored`);
            }
            await fsp.rm(path, { force: true });
            await fsp.link(abs(first), path);
          }
          summary.files++;
          break;
        }
        case 'symlink':
          await createSymlink(node, path);
          summary.specials++;
          break;
        case 'fifo':
        case 'dev':
        case 'chardev':
          await createSpecial(node, path, target);
          summary.specials++;
          break;
        default:
          throw new ResticError('UNSUPPORTED', `unsupported node type ${JSON.stringify(node.type)}`);
      }
      const job = restoreMetadataSync(node, path);
      if (job) exact.push(job);
    } catch (err) {
      if (isResticError(err, 'INTERRUPTED')) throw err;
      errors.push(failureFrom(shown, err));
    }
  }
  if ((options.exactTimes ?? true) && exact.length > 0) {
    try {
      await applyExactTimes(exact);
    } catch (err) {
      errors.push(failureFrom('/', err));
    }
  }

  // 4. verification
  if (options.verify && errors.length === 0) {
    progress.phase = 'verify';
    emit();
    const blobSize = (id: Id): number | undefined => {
      const loc = repo.index.lookup('data', id)[0];
      if (!loc) return undefined;
      return loc.uncompressedLength !== 0 ? loc.uncompressedLength : loc.length - 32;
    };
    for await (const step of allSteps()) {
      if (step.kind !== 'node' || step.node.type !== 'file') continue;
      checkAbort();
      try {
        await verifyFileContent(step.node, abs(step.location), blobSize, utf8Text(step.location));
        summary.verified++;
        progress.filesVerified++;
        emit();
      } catch (err) {
        errors.push(failureFrom(utf8Text(step.location), err));
      }
    }
  }
  progress.phase = 'done';
  emit();
  return summary;
}

async function createEmpty(path: Buffer): Promise<void> {
  closeSync(openSync(path, 'w', 0o600));
}

function parentOf(location: Uint8Array): Uint8Array {
  const i = location.lastIndexOf(0x2f);
  return i <= 0 ? new Uint8Array(0) : location.subarray(0, i);
}
