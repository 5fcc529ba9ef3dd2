/**
 * Prune, part one: the plan. Which packs to delete, which to repack (and which blobs to
 * carry over), which missing packs to forget — decided exactly as restic 0.14's `prune`
 * (cmd/restic/cmd_prune.go at v0.14.0, the version Debian ships and CI runs against):
 *
 * 1. Used blobs: every tree reachable from every snapshot (except `ignoreSnapshots`, which
 *    `forget --prune --dry-run` passes) and the data blobs they list.
 * 2. Every index entry is counted once as used (the first copy of a used blob), duplicate
 *    (further copies of a used blob) or unused. A used blob without any index entry aborts
 *    the plan ("index is not complete"): nothing is touched.
 * 3. Per pack: used/unused blobs and bytes (header bytes count as used), its type (data, tree
 *    or mixed), whether it holds uncompressed blobs. Of every duplicated blob exactly one copy
 *    counts as used, preferring packs that already hold used blobs.
 * 4. The pack listing decides: packs no index names are removed first; a needed pack whose
 *    size differs from the index aborts; unused packs are removed; the rest are kept, are
 *    "small" candidates, or repack candidates (partly used, mixed, or v2 tree packs with
 *    uncompressed blobs — and data packs too with `repackUncompressed`).
 * 5. Indexed packs missing from the listing: forgotten when unneeded, abort when needed.
 * 6. Small candidates join the repack candidates only when there are at least 10 of them.
 *    Candidates are sorted (tree/mixed first, then packs below the target size, then by
 *    unused/used ratio) and repacked until `maxUnused` is met or `maxRepackBytes` would be
 *    exceeded (tree/mixed/must-compress packs only stop at the latter).
 *
 * The result is a plain data structure; applying it is prune-apply.ts. The library never
 * prints: restic's warnings come back in the plan (or in the thrown error's message).
 */
import { ResticError } from '../errors.js';
import { shortId, type Id } from '../format/id.js';
import type { BlobType } from '../pack/header.js';
import { DEFAULT_PACK_SIZE } from '../pack/packer.js';
import type { Repository } from '../repository/repository.js';
import { blobKey, findUsedBlobs, parseBlobKey, type BlobKey, type UsedBlobsProgress } from './used-blobs.js';

/** `--max-unused`: how much unused space may remain after pruning. */
export type MaxUnused = { kind: 'unlimited' } | { kind: 'percent'; percent: number } | { kind: 'bytes'; bytes: number };

export const DEFAULT_MAX_UNUSED: MaxUnused = { kind: 'percent', percent: 5 };

export interface PruneOptions {
  /** Default 5%. */
  maxUnused?: MaxUnused;
  /** `--max-repack-size` in bytes; default unlimited. */
  maxRepackBytes?: number;
  /** `--repack-cacheable-only`: never repack data packs. */
  repackCacheableOnly?: boolean;
  /** `--repack-small`: packs below 80 % of the pack size count as small (else below 1/25). */
  repackSmall?: boolean;
  /** `--repack-uncompressed` (v2 only): repack every pack holding uncompressed blobs. */
  repackUncompressed?: boolean;
  /** Target pack size in bytes (`--pack-size`); default 16 MiB. */
  packSize?: number;
  /** Snapshots whose trees do not count as used (forget --prune --dry-run). */
  ignoreSnapshots?: ReadonlySet<Id>;
  /**
   * Object lock (issue 5, s3/retention.ts): given the repack candidates, the packs whose
   * retention has not lapsed. Those are kept, not repacked: the old pack would stay stored
   * until its date anyway, so repacking it only adds the copy.
   */
  lockedPacks?: (candidates: readonly Id[]) => Promise<ReadonlySet<Id>>;
  onProgress?: (event: PrunePlanProgress) => void;
}

export type PrunePlanProgress =
  | { phase: 'snapshots'; count: number }
  | ({ phase: 'used-blobs' } & UsedBlobsProgress)
  | { phase: 'packs'; done: number; total: number };

/** restic's pruneStats, field for field. */
export interface PruneStats {
  blobs: { used: number; duplicate: number; unused: number; remove: number; repack: number; repackrm: number };
  size: { used: number; duplicate: number; unused: number; remove: number; repack: number; repackrm: number; unref: number };
  packs: { used: number; unused: number; partlyUsed: number; unref: number; keep: number; repack: number; remove: number };
}

export type PackKind = BlobType | 'mixed';

export interface PackInfo {
  usedBlobs: number;
  unusedBlobs: number;
  /** Includes the pack header. */
  usedSize: number;
  unusedSize: number;
  type: PackKind;
  /** Holds at least one uncompressed blob. */
  uncompressed: boolean;
}

export type PackDecision = 'keep' | 'repack' | 'remove' | 'remove-unreferenced' | 'forget-missing';

export interface PrunePlan {
  /** Packs no index lists (file size each): deleted first. */
  removePacksFirst: Map<Id, number>;
  /** Packs whose needed blobs are copied into new packs, then deleted. */
  repackPacks: Set<Id>;
  /** Blobs to copy out of `repackPacks` (blobs also present in kept packs are left out). */
  keepBlobs: Set<BlobKey>;
  /** Packs without any used blob: dropped from the index, then deleted. */
  removePacks: Set<Id>;
  /** Indexed packs that do not exist and hold nothing needed: dropped from the index. */
  ignorePacks: Set<Id>;
  /** What was decided for every pack (indexed or listed). */
  decisions: Map<Id, PackDecision>;
  /** Per indexed pack, as classified. */
  packs: Map<Id, PackInfo>;
  stats: PruneStats;
  /** Size below which a fully used pack counts as small. */
  targetPackSize: number;
  /** Snapshots whose trees were walked. */
  snapshotCount: number;
  /** Repack candidates kept because they are under object lock (see PruneOptions.lockedPacks). */
  lockedKept?: Set<Id>;
}

function emptyStats(): PruneStats {
  return {
    blobs: { used: 0, duplicate: 0, unused: 0, remove: 0, repack: 0, repackrm: 0 },
    size: { used: 0, duplicate: 0, unused: 0, remove: 0, repack: 0, repackrm: 0, unref: 0 },
    packs: { used: 0, unused: 0, partlyUsed: 0, unref: 0, keep: 0, repack: 0, remove: 0 },
  };
}

// ---------------------------------------------------------------------------------------------
// Option parsing (restic's texts)

/** restic's parseSizeStr: an integer with an optional b/k/m/g/t suffix (powers of 1024). */
export function parseSize(text: string, flag = 'size'): number {
  if (text === '') throw new ResticError('USAGE', `invalid ${flag}: expected size, got empty string`);
  const units: Record<string, number> = { b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };
  const unit = units[text[text.length - 1].toLowerCase()];
  const digits = unit === undefined ? text : text.slice(0, -1);
  if (!/^[+-]?\d+$/.test(digits)) {
    throw new ResticError('USAGE', `invalid ${flag} ${JSON.stringify(text)}: strconv.ParseInt: parsing ${JSON.stringify(digits)}: invalid syntax`);
  }
  const value = Number(digits) * (unit ?? 1);
  if (!Number.isSafeInteger(value)) throw new ResticError('USAGE', `invalid ${flag} ${JSON.stringify(text)}: value out of range`);
  return value;
}

/** `--max-unused`: `unlimited`, `N%` (0 ≤ N < 100) or a size. */
export function parseMaxUnused(text: string): MaxUnused {
  const value = text.trim();
  if (value === '') throw new ResticError('USAGE', `invalid value for --max-unused: ${JSON.stringify(text)}`);
  if (value === 'unlimited') return { kind: 'unlimited' };
  if (value.endsWith('%')) {
    const number = value.slice(0, -1);
    const p = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(number) ? Number(number) : NaN;
    if (Number.isNaN(p)) {
      throw new ResticError('USAGE', `invalid percentage ${JSON.stringify(text)} passed for --max-unused: strconv.ParseFloat: parsing ${JSON.stringify(number)}: invalid syntax`);
    }
    if (p < 0) throw new ResticError('USAGE', 'percentage for --max-unused must be positive');
    if (p >= 100) throw new ResticError('USAGE', 'percentage for --max-unused must be below 100%');
    return { kind: 'percent', percent: p };
  }
  try {
    return { kind: 'bytes', bytes: parseSize(value, 'number of bytes') };
  } catch {
    throw new ResticError('USAGE', `invalid number of bytes ${JSON.stringify(text)} for --max-unused`);
  }
}

/** Unused bytes tolerated after pruning, given the used bytes (restic's maxUnusedBytes). */
export function maxUnusedBytes(limit: MaxUnused, used: number): number {
  switch (limit.kind) {
    case 'unlimited':
      return Number.POSITIVE_INFINITY;
    case 'percent':
      return Math.floor((limit.percent / (100 - limit.percent)) * used);
    case 'bytes':
      return limit.bytes;
  }
}

// ---------------------------------------------------------------------------------------------
// Planning

/** Walks the snapshots' trees: the set of blobs still needed. */
export async function collectUsedBlobs(repo: Repository, options: Pick<PruneOptions, 'ignoreSnapshots' | 'onProgress'> = {}): Promise<{ used: Set<BlobKey>; snapshotCount: number }> {
  const roots: Id[] = [];
  for (const { id, snapshot } of await repo.listSnapshots()) {
    if (options.ignoreSnapshots?.has(id)) continue;
    roots.push(snapshot.tree);
  }
  options.onProgress?.({ phase: 'snapshots', count: roots.length });
  const used = await findUsedBlobs(repo, roots, new Set(), {
    onProgress: (p) => options.onProgress?.({ phase: 'used-blobs', ...p }),
  });
  return { used, snapshotCount: roots.length };
}

/** restic's `%v` of a BlobSet: `{<data/f2ca1bb6> <tree/0a1b2c3d>}`. */
function formatBlobSet(keys: Iterable<BlobKey>): string {
  const items = [...keys].map((k) => {
    const { type, id } = parseBlobKey(k);
    return `<${type}/${shortId(id)}>`;
  });
  return `{${items.sort().join(' ')}}`;
}

/**
 * Builds the plan. The index must be loaded (it is loaded here when not); the repository is
 * only read. Throws BLOB_NOT_FOUND (index not complete), FILE_NOT_FOUND (needed packs
 * missing) or CORRUPT (a needed pack's size differs from the index) before anything changes.
 */
export async function planPrune(repo: Repository, options: PruneOptions = {}): Promise<PrunePlan> {
  await repo.loadIndex();
  const { used, snapshotCount } = await collectUsedBlobs(repo, options);
  return planPruneWithUsedBlobs(repo, used, snapshotCount, options);
}

/** The planning steps after the used blobs are known (exported for tests). */
export async function planPruneWithUsedBlobs(repo: Repository, usedBlobs: ReadonlySet<BlobKey>, snapshotCount: number, options: PruneOptions = {}): Promise<PrunePlan> {
  const index = await repo.loadIndex();
  const stats = emptyStats();

  // 0. One pass over the index into flat arrays: later passes touch no strings but the keys.
  // Works on the index's columns and first-copy numbers (typed arrays) rather than a string
  // key per entry: at millions of blobs the strings and Set lookups dominated the plan.
  const { count, types, packOf: indexPackOf, lengths, uncompressedLengths } = index.entryColumns();
  const firstCopy = index.firstCopies();
  // Pack ordinals in order of first appearance among the entries (the order of the plan's maps).
  const packIds: Id[] = [];
  const packOf = new Uint32Array(count);
  {
    const ordinalOf = new Int32Array(index.packCount).fill(-1);
    for (let i = 0; i < count; i++) {
      const indexOrdinal = indexPackOf[i];
      let ordinal = ordinalOf[indexOrdinal];
      if (ordinal < 0) {
        ordinal = packIds.length;
        packIds.push(index.packIdOf(indexOrdinal));
        ordinalOf[indexOrdinal] = ordinal;
      }
      packOf[i] = ordinal;
    }
  }

  // The used blobs' keys, stored at their first entry; keys the index lacks abort the plan.
  const usedKeyAt: Array<BlobKey | undefined> = new Array<BlobKey | undefined>(count);
  const notFound: BlobKey[] = [];
  for (const key of usedBlobs) {
    const { type, id } = parseBlobKey(key);
    const e = index.firstEntry(type, id);
    if (e < 0) notFound.push(key);
    else usedKeyAt[e] = key;
  }
  if (notFound.length > 0) {
    throw new ResticError(
      'BLOB_NOT_FOUND',
      `${formatBlobSet(notFound)} not found in the index\n\n` +
        'Integrity check failed: Data seems to be missing.\n' +
        'Will not start prune to prevent (additional) data loss!\n' +
        'index is not complete',
    );
  }

  // 1. Classify every index entry: the first copy of a used blob is used, later copies are
  //    duplicates, the rest unused. Per blob (at its first entry): kept (a used copy seen),
  //    duplicated, and copies not yet assigned (restic counts from 2, saturating at 255).
  const kept = new Uint8Array(count);
  const duplicated = new Uint8Array(count);
  const copiesLeft = new Uint8Array(count);
  for (let i = 0; i < count; i++) {
    const c = firstCopy[i];
    if (kept[c]) {
      duplicated[c] = 1;
      copiesLeft[c] = copiesLeft[c] === 0 ? 2 : Math.min(copiesLeft[c] + 1, 255);
      stats.size.duplicate += lengths[i];
      stats.blobs.duplicate++;
    } else if (usedKeyAt[c] !== undefined) {
      kept[c] = 1;
      stats.size.used += lengths[i];
      stats.blobs.used++;
    } else {
      stats.size.unused += lengths[i];
      stats.blobs.unused++;
    }
  }

  // 2. Per pack: header bytes count as used; non-duplicate blobs as classified.
  const infos: PackInfo[] = packIds.map((packId) => ({ usedBlobs: 0, unusedBlobs: 0, usedSize: index.packSize(packId) ?? 0, unusedSize: 0, type: 'data', uncompressed: false }));
  const typeSeen = new Uint8Array(packIds.length);
  let anyDuplicate = false;
  for (let i = 0; i < count; i++) {
    const p = infos[packOf[i]];
    p.usedSize -= lengths[i]; // packSize includes every blob: leave only the header bytes
    const type: BlobType = types[i] === 1 ? 'tree' : 'data';
    if (typeSeen[packOf[i]] === 0) {
      typeSeen[packOf[i]] = 1;
      p.type = type;
    } else if (p.type !== type) {
      p.type = 'mixed';
    }
    const c = firstCopy[i];
    if (duplicated[c]) {
      // decided below, once every pack's used count is known
      anyDuplicate = true;
    } else if (kept[c]) {
      p.usedSize += lengths[i];
      p.usedBlobs++;
    } else {
      p.unusedSize += lengths[i];
      p.unusedBlobs++;
    }
    if (uncompressedLengths[i] === 0) p.uncompressed = true;
  }
  if (anyDuplicate) {
    // 3. Exactly one copy of each duplicated blob becomes used: the first one found in a pack
    //    that already has used blobs, else the last copy.
    for (let i = 0; i < count; i++) {
      const c = firstCopy[i];
      if (!duplicated[c]) continue;
      const n = copiesLeft[c];
      const p = infos[packOf[i]];
      if (n === 0) {
        p.unusedSize += lengths[i];
        p.unusedBlobs++;
      } else if (p.usedBlobs > 0 || n === 1) {
        p.usedSize += lengths[i];
        p.usedBlobs++;
        copiesLeft[c] = 0;
      } else {
        p.unusedSize += lengths[i];
        p.unusedBlobs++;
        copiesLeft[c] = n - 1;
      }
    }
  }
  const packs = new Map<Id, PackInfo>(packIds.map((id, o) => [id, infos[o]]));

  // 4. Decide per pack file that exists.
  const packSize = options.packSize ?? DEFAULT_PACK_SIZE;
  // restic 0.14: only very small packs count as small, unless --repack-small.
  const targetPackSize = options.repackSmall ? Math.floor(packSize / 5) * 4 : Math.floor(packSize / 25);
  const decisions = new Map<Id, PackDecision>();
  const removePacksFirst = new Map<Id, number>();
  const removePacks = new Set<Id>();
  const repackPacks = new Set<Id>();
  const pending = new Map(packs);
  type Candidate = { id: Id; info: PackInfo; mustCompress: boolean };
  const candidates: Candidate[] = [];
  const smallCandidates: Candidate[] = [];
  const listed: [Id, number][] = [];
  for await (const info of repo.list('pack')) listed.push([info.name.toLowerCase(), info.size]);
  let done = 0;
  for (const [id, size] of listed) {
    const p = pending.get(id);
    if (p === undefined) {
      removePacksFirst.set(id, size);
      decisions.set(id, 'remove-unreferenced');
      stats.size.unref += size;
      continue;
    }
    if (p.unusedSize + p.usedSize !== size && p.usedBlobs !== 0) {
      throw new ResticError(
        'CORRUPT',
        `pack ${shortId(id)}: calculated size ${p.unusedSize + p.usedSize} does not match real size ${size}\nRun 'restic rebuild-index'.\n` +
          'pack size does not match calculated size from index',
        { file: `data/${id.slice(0, 2)}/${id}` },
      );
    }
    if (p.usedBlobs === 0) stats.packs.unused++;
    else if (p.unusedBlobs === 0) stats.packs.used++;
    else stats.packs.partlyUsed++;

    const mustCompress = repo.config.version >= 2 && (p.type === 'tree' || options.repackUncompressed === true) && p.uncompressed;
    if (p.usedBlobs === 0) {
      removePacks.add(id);
      decisions.set(id, 'remove');
      stats.blobs.remove += p.unusedBlobs;
      stats.size.remove += p.unusedSize;
    } else if (options.repackCacheableOnly && p.type === 'data') {
      stats.packs.keep++;
      decisions.set(id, 'keep');
    } else if (p.unusedBlobs === 0 && p.type !== 'mixed' && !mustCompress) {
      if (size >= targetPackSize) {
        stats.packs.keep++;
        decisions.set(id, 'keep');
      } else {
        smallCandidates.push({ id, info: p, mustCompress });
      }
    } else {
      candidates.push({ id, info: p, mustCompress });
    }
    pending.delete(id);
    options.onProgress?.({ phase: 'packs', done: ++done, total: packs.size });
  }

  // 5. What remains in `pending` is indexed but missing.
  const ignorePacks = new Set<Id>();
  const neededMissing: Id[] = [];
  for (const [id, p] of pending) {
    if (p.usedBlobs === 0) {
      ignorePacks.add(id);
      decisions.set(id, 'forget-missing');
      stats.blobs.remove += p.unusedBlobs;
      stats.size.remove += p.unusedSize;
    } else {
      neededMissing.push(id);
    }
  }
  if (neededMissing.length > 0) {
    throw new ResticError(
      'FILE_NOT_FOUND',
      `The index references ${neededMissing.length} needed pack files which are missing from the repository:\n` +
        neededMissing.map((id) => `  ${id}\n`).join('') +
        'packs from index missing in repo',
      { file: `data/${neededMissing[0].slice(0, 2)}/${neededMissing[0]}` },
    );
  }

  // 5b. Locked packs are kept (object lock, see PruneOptions.lockedPacks).
  let lockedKept: Set<Id> | undefined;
  if (options.lockedPacks && candidates.length + smallCandidates.length > 0) {
    const locked = await options.lockedPacks([...candidates, ...smallCandidates].map((c) => c.id));
    if (locked.size > 0) {
      lockedKept = new Set(locked);
      for (const list of [candidates, smallCandidates]) {
        for (const c of list.filter((c) => locked.has(c.id))) {
          stats.packs.keep++;
          decisions.set(c.id, 'keep');
        }
        list.splice(0, list.length, ...list.filter((c) => !locked.has(c.id)));
      }
    }
  }

  // 6. Small packs are only worth repacking in numbers.
  if (smallCandidates.length < 10) {
    stats.packs.keep += smallCandidates.length;
    for (const c of smallCandidates) decisions.set(c.id, 'keep');
  } else {
    candidates.push(...smallCandidates);
  }

  const total = (p: PackInfo): number => p.usedSize + p.unusedSize;
  candidates.sort((a, b) => {
    const pi = a.info;
    const pj = b.info;
    if (pi.type !== 'data' && pj.type === 'data') return -1;
    if (pj.type !== 'data' && pi.type === 'data') return 1;
    if (total(pi) < targetPackSize && total(pj) >= targetPackSize) return -1;
    if (total(pj) < targetPackSize && total(pi) >= targetPackSize) return 1;
    // highest unused/used ratio first, compared without division as restic does
    const lhs = pi.unusedSize * pj.usedSize;
    const rhs = pj.unusedSize * pi.usedSize;
    return lhs > rhs ? -1 : lhs < rhs ? 1 : 0;
  });

  const maxRepack = options.maxRepackBytes ?? Number.POSITIVE_INFINITY;
  const maxUnusedAfter = maxUnusedBytes(options.maxUnused ?? DEFAULT_MAX_UNUSED, stats.size.used);
  const repack = (c: Candidate): void => {
    repackPacks.add(c.id);
    decisions.set(c.id, 'repack');
    stats.blobs.repack += c.info.unusedBlobs + c.info.usedBlobs;
    stats.size.repack += total(c.info);
    stats.blobs.repackrm += c.info.unusedBlobs;
    stats.size.repackrm += c.info.unusedSize;
  };
  const keep = (c: Candidate): void => {
    stats.packs.keep++;
    decisions.set(c.id, 'keep');
  };
  for (const c of candidates) {
    const reachedUnusedSizeAfter = stats.size.unused - stats.size.remove - stats.size.repackrm < maxUnusedAfter;
    const reachedRepackSize = stats.size.repack + total(c.info) >= maxRepack;
    const largeEnough = total(c.info) >= targetPackSize;
    if (reachedRepackSize) keep(c);
    else if (c.info.type !== 'data' || c.mustCompress) repack(c);
    else if (reachedUnusedSizeAfter && largeEnough) keep(c);
    else repack(c);
  }
  stats.packs.unref = removePacksFirst.size;
  stats.packs.repack = repackPacks.size;
  stats.packs.remove = removePacks.size;

  // Blobs that also live in packs that stay need not be copied.
  const keepBlobs = new Set<BlobKey>();
  if (repackPacks.size > 0) {
    const goes = new Uint8Array(packIds.length);
    packIds.forEach((id, o) => {
      // (restic 0.14 does not skip forgotten missing packs here; we do, so a blob whose only
      // other copy sits in a missing pack is still carried over.)
      if (removePacks.has(id) || repackPacks.has(id) || ignorePacks.has(id)) goes[o] = 1;
    });
    const staysElsewhere = new Uint8Array(count);
    for (let i = 0; i < count; i++) if (!goes[packOf[i]]) staysElsewhere[firstCopy[i]] = 1;
    // in entry order of each blob's first copy, as restic's set was filled
    for (let i = 0; i < count; i++) {
      const key = usedKeyAt[i];
      if (key !== undefined && !staysElsewhere[i]) keepBlobs.add(key);
    }
  }

  const plan: PrunePlan = { removePacksFirst, repackPacks, keepBlobs, removePacks, ignorePacks, decisions, packs, stats, targetPackSize, snapshotCount };
  if (lockedKept) plan.lockedKept = lockedKept;
  return plan;
}
