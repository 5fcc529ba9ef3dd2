/**
 * `check`: verifies a repository the way restic 0.14's checker does, and returns typed
 * findings instead of printing.
 *
 * Structure (always):
 * 1. every index file loads (damaged → error, and the check stops, as restic's does); packs
 *    listed by several index files with the same blobs → hint; with different blobs → error;
 *    packs holding tree and data blobs → hint;
 * 2. every indexed pack exists with the size the index implies; packs in no index → hint
 *    ("additional files", fixed by prune);
 * 3. every snapshot loads; every tree reachable from them loads (index, MAC, decompression,
 *    hash, JSON) and every node passes restic's checks (file content set and indexed, dir
 *    subtree set, known type, non-empty name).
 * Data (`readData`): each selected pack is read once (in a few range reads, hashed as they
 * arrive, two packs at a time); its SHA-256 must equal its name;
 * its index entries must be contiguous from 0; every blob must decrypt, decompress and hash
 * to its ID; the header must list exactly the index's entries.
 *
 * A finding names the repository file concerned. The check itself only throws for problems
 * that stop it from running at all (backend unreachable, interrupted).
 */
import { relativePath } from '../backend/backend.js';
import { decompress } from '../compression/index.js';
import { createSha256, open, sha256 } from '../crypto/index.js';
import { ResticError, isResticError } from '../errors.js';
import { shortId, type Id } from '../format/id.js';
import { goQuote } from '../format/json.js';
import type { Tree } from '../format/node.js';
import { parseSnapshot } from '../format/snapshot.js';
import { parseIndexFile } from '../index/index-file.js';
import { MasterIndex } from '../index/master-index.js';
import { HEADER_LENGTH_SIZE, parsePackHeader, type PackedBlob } from '../pack/header.js';
import type { Repository } from '../repository/repository.js';

export type CheckPhase = 'load-indexes' | 'check-packs' | 'check-snapshots' | 'read-data';

export type FindingKind =
  /** An index file cannot be read, decrypted or parsed. */
  | 'index-damaged'
  /** A pack is listed by several index files (same blobs). Hint. */
  | 'pack-in-several-indexes'
  /** A pack is listed by several index files with different blobs. */
  | 'pack-different-data'
  /** A pack holds tree and data blobs. Hint. */
  | 'mixed-pack'
  /** An indexed pack file is missing. */
  | 'pack-missing'
  /** An indexed pack file has another size than its index entries imply. */
  | 'pack-size'
  /** A pack file no index lists. Hint. */
  | 'pack-unreferenced'
  /** A snapshot file cannot be loaded or parsed. */
  | 'snapshot-damaged'
  /** A tree is not in the index, or cannot be loaded/decrypted/decompressed/parsed. */
  | 'tree-damaged'
  /** A node of a tree is invalid (see `message`). */
  | 'node-invalid'
  /** `readData`: the pack's content hash is not its name. */
  | 'pack-id-mismatch'
  /** `readData`: the pack could not be downloaded, or its header is damaged or disagrees with the index. */
  | 'pack-damaged'
  /** `readData`: a blob fails its MAC, decompression or hash. */
  | 'blob-damaged';

export interface CheckFinding {
  severity: 'error' | 'hint';
  kind: FindingKind;
  /** Repository file concerned, e.g. `data/ab/ab12…`, `index/…`, `snapshots/…`. */
  file?: string;
  /** The tree a node/tree finding belongs to. */
  treeId?: Id;
  packId?: Id;
  blobId?: Id;
  /** For several-indexes findings: the index files listing the pack. */
  indexIds?: Id[];
  /** restic's wording for the problem (one line, without the file prefix for tree errors). */
  message: string;
}

/** Which packs `readData` downloads. */
export type ReadDataSubset =
  | { kind: 'all' }
  /** restic's `n/t`: packs whose first ID byte mod t equals n-1. */
  | { kind: 'part'; n: number; t: number }
  | { kind: 'percent'; percent: number }
  | { kind: 'size'; bytes: number };

export interface CheckProgress {
  phase: CheckPhase;
  done: number;
  total: number;
}

export interface CheckOptions {
  readData?: ReadDataSubset;
  /** Called when a phase starts (the CLI prints restic's phase lines). */
  onPhase?: (phase: CheckPhase) => void;
  /** Called for each finding as soon as it is known. */
  onFinding?: (finding: CheckFinding) => void;
  onProgress?: (progress: CheckProgress) => void;
  /** Called before `readData` downloads: how many packs (and bytes) were selected out of how many. */
  onReadDataSelection?: (selection: { selected: number; total: number; bytes: number }) => void;
  /** Trees / packs loaded at once (default 4). */
  concurrency?: number;
  /** Random source for `percent` / `size` subsets (default Math.random). */
  random?: () => number;
}

export interface CheckResult {
  findings: CheckFinding[];
  errors: number;
  hints: number;
  snapshots: number;
  trees: number;
  /** Packs downloaded by `readData`. */
  packsRead: number;
  /** True when the check stopped early (a damaged index). */
  aborted: boolean;
}

/** Parses restic's `--read-data-subset` value: `n/t`, `x%` / `x.y%`, or a size with k/m/g/t suffix. */
export function parseReadDataSubset(text: string): ReadDataSubset {
  const s = text.trim();
  const part = /^(-?\d+)\/(-?\d+)$/.exec(s);
  if (part) {
    const n = Number(part[1]);
    const t = Number(part[2]);
    if (n < 1 || t < 1 || n > t) {
      throw new ResticError('USAGE', 'check flag --read-data-subset=n/t values must be positive integers, and n <= t, e.g. --read-data-subset=1/2');
    }
    if (t > 256) throw new ResticError('USAGE', 'check flag --read-data-subset=n/t t must be at most 256');
    return { kind: 'part', n, t };
  }
  const pct = /^(\d+(?:\.\d+)?)%$/.exec(s);
  if (pct) {
    const percent = Number(pct[1]);
    if (!(percent > 0) || percent > 100) {
      throw new ResticError('USAGE', `check flag --read-data-subset=x% x must be above 0.0% and at most 100.0%`);
    }
    return { kind: 'percent', percent };
  }
  const size = /^(\d+)([kKmMgGtT]?)$/.exec(s);
  if (size) {
    const factor = { '': 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40 }[size[2].toLowerCase() as '' | 'k' | 'm' | 'g' | 't'];
    const bytes = Number(size[1]) * factor;
    if (bytes > 0) return { kind: 'size', bytes };
  }
  throw new ResticError('USAGE', 'check flag --read-data-subset has invalid value, please see documentation');
}

const packFile = (id: Id): string => relativePath('pack', id);

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

async function runPool<T>(items: readonly T[], concurrency: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) await fn(items[next++]);
  };
  const workers: Promise<void>[] = [];
  for (let i = 0; i < Math.min(concurrency, items.length); i++) workers.push(worker());
  await Promise.all(workers);
}

/**
 * A fingerprint of a pack's blob list (type, id, offset, length, raw length), independent of
 * order: the SHA-256 of the sorted entries, so memory stays one short string per pack.
 */
function blobsFingerprint(blobs: readonly PackedBlob[]): string {
  const text = blobs
    .map((b) => `${b.type[0]}${b.id}:${b.offset}:${b.length}:${b.uncompressedLength}`)
    .sort()
    .join(',');
  return Buffer.from(sha256(Buffer.from(text, 'utf8'))).toString('base64');
}

export async function checkRepository(repo: Repository, options: CheckOptions = {}): Promise<CheckResult> {
  const concurrency = Math.max(1, options.concurrency ?? 4);
  const result: CheckResult = { findings: [], errors: 0, hints: 0, snapshots: 0, trees: 0, packsRead: 0, aborted: false };
  const report = (f: CheckFinding): void => {
    result.findings.push(f);
    if (f.severity === 'error') result.errors++;
    else result.hints++;
    options.onFinding?.(f);
  };

  // ---- 1. indexes ----
  options.onPhase?.('load-indexes');
  const index = new MasterIndex();
  const indexIds = await repo.listIds('index');
  /** pack → fingerprint → index files listing the pack with that blob list */
  const packSources = new Map<Id, Map<string, Id[]>>();
  let indexDamaged = false;
  let loaded = 0;
  await runPool(indexIds, concurrency, async (fileId) => {
    const file = relativePath('index', fileId);
    try {
      const content = parseIndexFile(await repo.loadUnpacked('index', fileId), fileId);
      if (repo.config.version < 2) {
        for (const p of content.packs) {
          if (p.blobs.some((b) => b.uncompressedLength !== 0)) {
            throw new ResticError('UNSUPPORTED_VERSION', `${file}: lists compressed blobs, a feature repository version 1 lacks`, { file });
          }
        }
      }
      index.addIndexFile(fileId, content);
      for (const p of content.packs) {
        const fp = blobsFingerprint(p.blobs);
        let byFp = packSources.get(p.id);
        if (!byFp) packSources.set(p.id, (byFp = new Map()));
        const list = byFp.get(fp);
        if (list) list.push(fileId);
        else byFp.set(fp, [fileId]);
      }
    } catch (err) {
      if (!isResticError(err) || err.code === 'BACKEND_UNREACHABLE' || err.code === 'BACKEND_AUTH') throw err;
      indexDamaged = true;
      report({ severity: 'error', kind: 'index-damaged', file, message: `index ${fileId} is damaged: ${messageOf(err)}` });
    }
    options.onProgress?.({ phase: 'load-indexes', done: ++loaded, total: indexIds.length });
  });
  if (indexDamaged) {
    result.aborted = true;
    return result;
  }
  repo.setIndex(index);
  const indexedPacks = [...packSources.keys()].sort();
  for (const packId of indexedPacks) {
    const byFp = packSources.get(packId) as Map<string, Id[]>;
    const all = [...byFp.values()].flat().sort();
    if (byFp.size > 1) {
      report({
        severity: 'error',
        kind: 'pack-different-data',
        file: packFile(packId),
        packId,
        indexIds: all,
        message: `pack ${packId} has different data in indexes: {${all.map(shortId).join(' ')}}`,
      });
    } else if (all.length > 1) {
      report({
        severity: 'hint',
        kind: 'pack-in-several-indexes',
        file: packFile(packId),
        packId,
        indexIds: all,
        message: `pack ${packId} contained in several indexes: {${all.map(shortId).join(' ')}}`,
      });
    }
  }
  for (const packId of indexedPacks) {
    const blobs = index.blobsOfPack(packId);
    if (blobs.some((b) => b.type === 'tree') && blobs.some((b) => b.type === 'data')) {
      report({ severity: 'hint', kind: 'mixed-pack', file: packFile(packId), packId, message: `pack ${shortId(packId)} contains a mix of tree and data blobs` });
    }
  }

  // ---- 2. packs ----
  options.onPhase?.('check-packs');
  const stored = new Map<Id, number>();
  for await (const info of repo.list('pack')) stored.set(info.name.toLowerCase(), info.size);
  for (const packId of indexedPacks) {
    const size = stored.get(packId);
    const expected = index.packSize(packId) as number;
    if (size === undefined) {
      report({ severity: 'error', kind: 'pack-missing', file: packFile(packId), packId, message: `pack ${packId}: does not exist` });
    } else if (size !== expected) {
      report({
        severity: 'error',
        kind: 'pack-size',
        file: packFile(packId),
        packId,
        message: `pack ${packId}: unexpected file size: got ${size}, expected ${expected}`,
      });
    }
  }
  for (const packId of [...stored.keys()].sort()) {
    if (!packSources.has(packId)) {
      report({ severity: 'hint', kind: 'pack-unreferenced', file: packFile(packId), packId, message: `pack ${packId}: not referenced in any index` });
    }
  }

  // ---- 3. snapshots and trees ----
  options.onPhase?.('check-snapshots');
  const snapshotIds = await repo.listIds('snapshot');
  const roots: Id[] = [];
  for (const id of snapshotIds) {
    const file = relativePath('snapshot', id);
    try {
      const sn = parseSnapshot(await repo.loadUnpacked('snapshot', id), id);
      if (!sn.tree) throw new ResticError('CORRUPT', 'snapshot has no tree');
      roots.push(sn.tree);
      result.snapshots++;
    } catch (err) {
      if (!isResticError(err) || err.code === 'BACKEND_UNREACHABLE' || err.code === 'BACKEND_AUTH') throw err;
      report({ severity: 'error', kind: 'snapshot-damaged', file, message: `load <snapshot/${id.slice(0, 10)}>: ${messageOf(err)}` });
    }
    options.onProgress?.({ phase: 'check-snapshots', done: result.snapshots, total: snapshotIds.length });
  }
  await walkTrees(repo, roots, concurrency, report, () => result.trees++);

  // ---- 4. data ----
  if (options.readData) {
    options.onPhase?.('read-data');
    const selected = selectPacks(indexedPacks.filter((p) => stored.has(p)), options.readData, (p) => stored.get(p) ?? 0, options.random ?? Math.random);
    let bytes = 0;
    for (const p of selected) bytes += stored.get(p) ?? 0;
    options.onReadDataSelection?.({ selected: selected.length, total: indexedPacks.length, bytes });
    let done = 0;
    await runPool(selected, Math.min(concurrency, 2), async (packId) => {
      await readPack(repo, packId, stored.get(packId), index.blobsOfPack(packId), report);
      result.packsRead++;
      options.onProgress?.({ phase: 'read-data', done: ++done, total: selected.length });
    });
  }
  return result;
}

/** Packs for `readData`, in ID order. */
export function selectPacks(packs: readonly Id[], subset: ReadDataSubset, sizeOf: (id: Id) => number, random: () => number): Id[] {
  switch (subset.kind) {
    case 'all':
      return [...packs];
    case 'part':
      return packs.filter((p) => parseInt(p.slice(0, 2), 16) % subset.t === subset.n - 1);
    case 'percent': {
      const count = Math.min(packs.length, Math.max(packs.length > 0 ? 1 : 0, Math.round((packs.length * subset.percent) / 100)));
      return shuffled(packs, random).slice(0, count).sort();
    }
    case 'size': {
      const out: Id[] = [];
      let total = 0;
      for (const p of shuffled(packs, random)) {
        if (total >= subset.bytes) break;
        out.push(p);
        total += sizeOf(p);
      }
      return out.sort();
    }
  }
}

function shuffled<T>(items: readonly T[], random: () => number): T[] {
  const a = [...items];
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}

/** Loads every tree reachable from `roots` once and checks its nodes. */
async function walkTrees(repo: Repository, roots: readonly Id[], concurrency: number, report: (f: CheckFinding) => void, onTree: () => void): Promise<void> {
  const seen = new Set<Id>();
  const queue: Id[] = [];
  const enqueue = (id: Id): void => {
    if (seen.has(id)) return;
    seen.add(id);
    queue.push(id);
  };
  for (const r of roots) enqueue(r);
  const treeError = (treeId: Id, message: string, file?: string): void => {
    const f: CheckFinding = { severity: 'error', kind: 'tree-damaged', treeId, message };
    if (file !== undefined) f.file = file;
    report(f);
  };
  const worker = async (): Promise<void> => {
    while (queue.length > 0) {
      const id = queue.shift() as Id;
      let tree: Tree;
      const locations = repo.index.lookup('tree', id);
      if (locations.length === 0) {
        treeError(id, `id ${id} not found in repository`);
        continue;
      }
      try {
        tree = await repo.loadTree(id);
      } catch (err) {
        if (!isResticError(err) || err.code === 'BACKEND_UNREACHABLE' || err.code === 'BACKEND_AUTH') throw err;
        treeError(id, messageOf(err), relativePath('pack', locations[0].packId));
        continue;
      }
      onTree();
      for (const problem of nodeProblems(tree)) {
        report({ severity: 'error', kind: 'node-invalid', treeId: id, message: `tree ${id}: ${problem}` });
      }
      for (const node of tree.nodes) {
        if (node.type === 'file') {
          for (const blob of node.content ?? []) {
            if (isNullId(blob)) continue;
            if (!repo.index.has('data', blob)) {
              report({
                severity: 'error',
                kind: 'node-invalid',
                treeId: id,
                blobId: blob,
                message: `tree ${id}: file "${goQuote(node.name)}" blob ${blob} not found in index`,
              });
            }
          }
        } else if (node.type === 'dir' && node.subtree && !isNullId(node.subtree)) {
          enqueue(node.subtree);
        }
      }
    }
  };
  while (queue.length > 0) {
    const workers: Promise<void>[] = [];
    for (let i = 0; i < concurrency; i++) workers.push(worker());
    await Promise.all(workers);
  }
}

const NULL_ID = '0'.repeat(64);
const isNullId = (id: Id): boolean => id === NULL_ID;

/** restic's per-node checks except the index lookup (see checkTree in restic's checker). */
export function nodeProblems(tree: Tree): string[] {
  const problems: string[] = [];
  for (const node of tree.nodes) {
    const name = `"${goQuote(node.name)}"`;
    switch (node.type) {
      case 'file':
        if (node.content === null) problems.push(`file ${name} has nil blob list`);
        (node.content ?? []).forEach((blob, i) => {
          if (isNullId(blob)) problems.push(`file ${name} blob ${i} has null ID`);
        });
        break;
      case 'dir':
        if (node.subtree === undefined) problems.push(`dir node ${name} has no subtree`);
        else if (isNullId(node.subtree)) problems.push(`dir node ${name} subtree id is null`);
        break;
      case 'symlink':
      case 'socket':
      case 'chardev':
      case 'dev':
      case 'fifo':
        break;
      default:
        problems.push(`node ${name} with invalid type "${goQuote(Buffer.from(node.type, 'utf8'))}"`);
    }
    if (node.name.length === 0) problems.push('node with empty name');
  }
  return problems;
}

/** Blobs of one pack verified at once by `readData`. */
const BLOBS_IN_FLIGHT = 4;
/** `readData` reads a pack in range reads of about this size, hashing as it goes. */
const READ_CHUNK = 8 * 1024 * 1024;

/**
 * Verifies `blobs` (all inside `bytes`, which holds the pack from file offset `base`): MAC,
 * decryption, decompression, hash. Returns one problem message (or undefined) per blob.
 * A few blobs at once: zstd runs on libuv's thread pool, so decompression of one blob
 * overlaps the MAC, AES and SHA-256 of the next on this thread.
 */
async function verifyBlobs(repo: Repository, file: string, bytes: Uint8Array, base: number, blobs: readonly PackedBlob[]): Promise<(string | undefined)[]> {
  const problems: (string | undefined)[] = new Array(blobs.length);
  let next = 0;
  const verifier = async (): Promise<void> => {
    while (next < blobs.length) {
      const i = next++;
      const b = blobs[i];
      const what = `${file}: ${b.type} blob ${b.id}`;
      try {
        const start = b.offset - base;
        if (start < 0 || start + b.length > bytes.length) throw new ResticError('CORRUPT', `${what}: extends past the end of the file`);
        let plain = open(repo.masterKey, bytes.subarray(start, start + b.length), what);
        if (b.uncompressedLength !== 0) {
          plain = await decompress(plain, b.uncompressedLength, what);
          if (plain.length !== b.uncompressedLength) throw new ResticError('CORRUPT', `${what}: decompressed to ${plain.length} bytes, index says ${b.uncompressedLength}`);
        }
        const hash = Buffer.from(sha256(plain)).toString('hex');
        if (hash !== b.id) throw new ResticError('CORRUPT', `${what}: content hash is ${hash}`);
      } catch (err) {
        if (!isResticError(err)) throw err;
        problems[i] = messageOf(err);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(BLOBS_IN_FLIGHT, blobs.length) }, verifier));
  return problems;
}

/** Header findings shared by both read paths: `tail` holds the pack from file offset `tailBase` to its end. */
function checkHeader(repo: Repository, packId: Id, tail: Uint8Array, tailBase: number, sorted: readonly PackedBlob[], pos: number, damaged: (message: string, kind?: FindingKind, blobId?: Id) => void): void {
  const file = packFile(packId);
  const fileLength = tailBase + tail.length;
  let header: PackedBlob[] | undefined;
  if (fileLength < HEADER_LENGTH_SIZE) {
    damaged(`pack ${packId}: file is too short (${fileLength} bytes) to hold a header`);
  } else {
    const headerLength = Buffer.from(tail.buffer, tail.byteOffset, tail.byteLength).readUInt32LE(tail.length - HEADER_LENGTH_SIZE);
    const headerStart = fileLength - HEADER_LENGTH_SIZE - headerLength;
    if (headerStart < 0) {
      damaged(`pack ${packId}: header length ${headerLength} is larger than the file`);
    } else {
      try {
        header = parsePackHeader(open(repo.masterKey, tail.subarray(headerStart - tailBase, tail.length - HEADER_LENGTH_SIZE), `${file}: header`), packId);
        if (headerStart !== pos) damaged(`pack ${packId}: header starts at ${headerStart}, but the indexed blobs end at ${pos}`);
      } catch (err) {
        damaged(`pack ${packId}: header: ${messageOf(err)}`);
      }
    }
  }
  if (header) {
    const want = new Set(sorted.map((b) => `${b.type}/${b.id}/${b.offset}/${b.length}/${b.uncompressedLength}`));
    for (const h of header) {
      if (!want.delete(`${h.type}/${h.id}/${h.offset}/${h.length}/${h.uncompressedLength}`)) {
        damaged(`pack ${packId}: blob ${h.id} is not contained in index or position is incorrect`, 'pack-damaged', h.id);
      }
    }
    if (want.size > 0) damaged(`pack ${packId}: the header lists ${header.length} blobs, the index ${sorted.length}`);
  }
}

/**
 * Reads a well-formed pack in a few range reads (about READ_CHUNK each, cut at blob ends),
 * hashing each piece as it arrives and verifying its blobs from the same buffer, so only one
 * piece per pack is in memory. Returns false (having reported nothing) when the pack is not
 * what the index and listing say — wrong size, short read, header not behind the blobs — so
 * the caller reads it whole and reports exactly what is wrong.
 */
async function readPackInPieces(repo: Repository, packId: Id, size: number, sorted: readonly PackedBlob[], pos: number, damaged: (message: string, kind?: FindingKind, blobId?: Id) => void): Promise<boolean> {
  if (size < pos + HEADER_LENGTH_SIZE) return false;
  const file = packFile(packId);
  const pieces: { start: number; end: number; blobs: PackedBlob[] }[] = [];
  let current = { start: 0, end: 0, blobs: [] as PackedBlob[] };
  for (const b of sorted) {
    if (current.blobs.length > 0 && b.offset + b.length - current.start > READ_CHUNK) {
      pieces.push(current);
      current = { start: current.end, end: current.end, blobs: [] };
    }
    current.blobs.push(b);
    current.end = b.offset + b.length;
  }
  current.end = size; // the last piece carries the header
  pieces.push(current);
  const hasher = createSha256();
  const problems: (string | undefined)[] = [];
  let tail: Uint8Array | undefined;
  for (const piece of pieces) {
    let bytes: Uint8Array;
    try {
      bytes = await repo.backend.read('pack', packId, { offset: piece.start, length: piece.end - piece.start });
    } catch (err) {
      if (isResticError(err, 'BACKEND_UNREACHABLE') || isResticError(err, 'BACKEND_AUTH')) throw err;
      return false;
    }
    if (bytes.length !== piece.end - piece.start) return false;
    hasher.update(bytes);
    problems.push(...(await verifyBlobs(repo, file, bytes, piece.start, piece.blobs)));
    tail = bytes;
  }
  const actual = Buffer.from(hasher.digest()).toString('hex');
  if (actual !== packId) {
    damaged(`Pack ID does not match, want ${packId}, got ${actual}`, 'pack-id-mismatch');
    return true;
  }
  const last = pieces[pieces.length - 1];
  const headerLength = Buffer.from(tail!.buffer, tail!.byteOffset, tail!.byteLength).readUInt32LE(tail!.length - HEADER_LENGTH_SIZE);
  if (size - HEADER_LENGTH_SIZE - headerLength < last.start) return false;
  checkHeader(repo, packId, tail!, last.start, sorted, pos, damaged);
  sorted.forEach((b, i) => {
    if (problems[i] !== undefined) damaged(`pack ${packId}: blob ${b.id}: ${problems[i]}`, 'blob-damaged', b.id);
  });
  return true;
}

/**
 * Reads a pack and checks hash, layout, header and blobs: in pieces when it looks well formed
 * (`size` from the listing), else whole (one retry on a failed download).
 */
async function readPack(repo: Repository, packId: Id, size: number | undefined, indexed: PackedBlob[], report: (f: CheckFinding) => void): Promise<void> {
  const file = packFile(packId);
  const damaged = (message: string, kind: FindingKind = 'pack-damaged', blobId?: Id): void => {
    const f: CheckFinding = { severity: 'error', kind, file, packId, message };
    if (blobId !== undefined) f.blobId = blobId;
    report(f);
  };
  const sorted = [...indexed].sort((a, b) => a.offset - b.offset);
  let pos = 0;
  let contiguous = true;
  for (const b of sorted) {
    if (b.offset !== pos) {
      contiguous = false;
      break;
    }
    pos += b.length;
  }
  if (contiguous && size !== undefined && (await readPackInPieces(repo, packId, size, sorted, pos, damaged))) return;

  let bytes: Uint8Array;
  try {
    bytes = await repo.backend.read('pack', packId);
  } catch (first) {
    if (isResticError(first, 'BACKEND_UNREACHABLE') || isResticError(first, 'BACKEND_AUTH')) throw first;
    try {
      bytes = await repo.backend.read('pack', packId);
    } catch (err) {
      damaged(`pack ${packId} failed to download: ${messageOf(err)}`);
      return;
    }
  }
  const actual = Buffer.from(sha256(bytes)).toString('hex');
  if (actual !== packId) {
    damaged(`Pack ID does not match, want ${packId}, got ${actual}`, 'pack-id-mismatch');
    return;
  }
  pos = 0;
  for (const b of sorted) {
    if (b.offset !== pos) {
      damaged(`pack ${packId}: index lists ${b.type} blob ${b.id} at offset ${b.offset}, expected ${pos} (gap or overlapping blobs)`);
      return;
    }
    pos += b.length;
  }
  checkHeader(repo, packId, bytes, 0, sorted, pos, damaged);
  const problems = await verifyBlobs(repo, file, bytes, 0, sorted);
  sorted.forEach((b, i) => {
    if (problems[i] !== undefined) damaged(`pack ${packId}: blob ${b.id}: ${problems[i]}`, 'blob-damaged', b.id);
  });
}
