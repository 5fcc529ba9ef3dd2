/**
 * Prune, part two: carrying out a plan in restic's crash-safe order.
 *
 * 1. Delete the unreferenced packs (no index names them, so nothing can need them).
 * 2. Repack: read every needed blob out of the packs to repack (MAC, decompression and hash
 *    checked; a damaged copy falls back to another copy), re-save it into new packs — always,
 *    even though the old copy is still indexed — and write index files for the new packs.
 *    A crash here leaves only duplicates.
 * 3. Write new index files listing every pack that stays plus the new packs, then delete the
 *    old index files. A crash between the two leaves packs listed twice (harmless), never a
 *    pack listed nowhere that is needed.
 * 4. Delete the repacked and unused packs. A crash here leaves unreferenced packs, which the
 *    next prune removes in step 1.
 *
 * The index never names a deleted pack: a pack file is deleted only once no index file that
 * lists it remains. The caller must hold an exclusive lock throughout.
 */
import { relativePath } from '../backend/backend.js';
import { decompress, type CompressionMode } from '../compression/index.js';
import { compress } from '../compression/index.js';
import { open, seal, sha256Hex } from '../crypto/index.js';
import { ResticError, isResticError } from '../errors.js';
import { idFromBytes, shortId, type Id } from '../format/id.js';
import { encodeIndexFile } from '../index/index-file.js';
import { MasterIndex } from '../index/master-index.js';
import type { BlobType, PackedBlob } from '../pack/header.js';
import { DEFAULT_PACK_SIZE, Packer, verifyPack } from '../pack/packer.js';
import { blobCompression } from '../repository/blob-compression.js';
import { INDEX_MAX_BLOBS, IndexWriter, saveUnpacked } from '../repository/index-writer.js';
import type { Repository } from '../repository/repository.js';
import type { PrunePlan } from './prune.js';
import { blobKey, parseBlobKey, type BlobKey } from './used-blobs.js';

/** Points where prune has just finished one durable action (for progress, and crash tests). */
export type PruneStep =
  // announced before a phase starts
  | 'deleting-unreferenced'
  | 'repacking'
  | 'writing-index'
  | 'deleting-index'
  | 'deleting-packs'
  // done, durable
  | 'unreferenced-pack-deleted'
  | 'unreferenced-deleted'
  | 'new-pack-written'
  | 'repacked'
  | 'index-file-written'
  | 'index-written'
  | 'old-index-file-deleted'
  | 'old-index-deleted'
  | 'pack-deleted'
  | 'done';

export interface ApplyPruneOptions {
  /** Compression for repacked blobs (v2): default `auto`. */
  compression?: CompressionMode;
  /** Target size of the new packs (default 16 MiB). */
  packSize?: number;
  /**
   * Called after each durable action, awaited before the next one. Progress reporting uses it;
   * crash tests kill the process from it (see the prune command's test hook).
   */
  onStep?: (step: PruneStep, detail: { id?: Id }) => void | Promise<void>;
  /**
   * Stops at the next safe point (before any further write or delete) once aborted. The CLI
   * releases the lock when it is interrupted; without this the abandoned apply could go on
   * deleting without one.
   */
  signal?: AbortSignal;
}

export interface PruneApplyResult {
  deletedUnreferencedPacks: Id[];
  repackedPacks: Id[];
  newPacks: Id[];
  /** Index files written for the new packs during the repack (deleted again in step 3). */
  repackIndexFiles: Id[];
  newIndexFiles: Id[];
  deletedIndexFiles: Id[];
  deletedPacks: Id[];
  /** Deletions that failed (restic ignores them too; a later prune retries). */
  failedDeletions: { file: string; error: string }[];
}

/**
 * Carries out `plan` (from planPrune on the same repository, under the same exclusive lock).
 * Afterwards `repo.index` describes the new index files.
 */
export async function applyPrunePlan(repo: Repository, plan: PrunePlan, options: ApplyPruneOptions = {}): Promise<PruneApplyResult> {
  const index = repo.index;
  const stopIfAborted = (): void => {
    if (options.signal?.aborted) {
      const reason: unknown = options.signal.reason;
      throw isResticError(reason) ? reason : new ResticError('INTERRUPTED', 'prune interrupted; the repository is consistent, run prune again');
    }
  };
  const step = async (s: PruneStep, id?: Id): Promise<void> => {
    await options.onStep?.(s, id === undefined ? {} : { id });
    stopIfAborted();
  };
  const result: PruneApplyResult = {
    deletedUnreferencedPacks: [],
    repackedPacks: [],
    newPacks: [],
    repackIndexFiles: [],
    newIndexFiles: [],
    deletedIndexFiles: [],
    deletedPacks: [],
    failedDeletions: [],
  };
  const tryRemove = async (type: 'pack' | 'index', id: Id): Promise<boolean> => {
    stopIfAborted();
    try {
      await repo.backend.remove(type, id);
      return true;
    } catch (err) {
      result.failedDeletions.push({ file: relativePath(type, id), error: (err as Error).message });
      return false;
    }
  };

  // Index files prune did not load mean someone else wrote to the repository (the lock was
  // lost or ignored) or the listing lagged when the index was loaded: packs that look
  // unreferenced or unused may be needed. Checked before each deleting phase.
  const expectedIndexFiles = new Set<Id>(index.indexFileIds());
  const checkNoForeignIndex = async (): Promise<void> => {
    const foreign = (await repo.listIds('index')).filter((id) => !expectedIndexFiles.has(id));
    if (foreign.length > 0) {
      throw new ResticError(
        'FATAL',
        `index file ${relativePath('index', foreign[0])}${foreign.length > 1 ? ` and ${foreign.length - 1} more` : ''} appeared while prune ran ` +
          '(another process wrote to the repository, or the listing was incomplete); stopped before deleting packs, run prune again',
        { file: relativePath('index', foreign[0]) },
      );
    }
  };

  // 1. Unreferenced packs.
  if (plan.removePacksFirst.size > 0) {
    await checkNoForeignIndex();
    await step('deleting-unreferenced');
    for (const id of plan.removePacksFirst.keys()) {
      if (await tryRemove('pack', id)) {
        result.deletedUnreferencedPacks.push(id);
        await step('unreferenced-pack-deleted', id);
      }
    }
    await step('unreferenced-deleted');
  }

  // 2. Repack.
  const newPacks: { id: Id; blobs: PackedBlob[] }[] = [];
  const newPackSizes = new Map<Id, number>();
  if (plan.repackPacks.size > 0) {
    await step('repacking');
    const repacked = await repack(repo, plan, options, async (pack) => {
      newPackSizes.set(pack.id, pack.size);
      newPacks.push({ id: pack.id, blobs: pack.blobs });
      result.newPacks.push(pack.id);
      await step('new-pack-written', pack.id);
    });
    result.repackIndexFiles = repacked.indexFiles;
    for (const id of repacked.indexFiles) expectedIndexFiles.add(id);
    result.repackedPacks = [...plan.repackPacks];
    await step('repacked');
  }

  // 3. New index without the packs that go; then the old index files go.
  const drop = new Set<Id>([...plan.removePacks, ...plan.repackPacks, ...plan.ignorePacks]);
  if (drop.size > 0) {
    await step('writing-index');
    const oldIndexFiles = [...index.indexFileIds(), ...result.repackIndexFiles];
    const keep: { id: Id; blobs: PackedBlob[] }[] = [];
    for (const packId of index.packIds()) if (!drop.has(packId)) keep.push({ id: packId, blobs: index.blobsOfPack(packId) });
    keep.push(...newPacks.filter((p) => !index.hasPack(p.id)));
    let batch: { id: Id; blobs: PackedBlob[] }[] = [];
    let batchBlobs = 0;
    const rebuilt = new MasterIndex();
    const writeBatch = async (): Promise<void> => {
      stopIfAborted();
      const id = await saveUnpacked(repo, 'index', encodeIndexFile(batch), options.compression ?? 'auto');
      expectedIndexFiles.add(id);
      for (const pack of batch) rebuilt.addPack(pack.id, pack.blobs, id);
      result.newIndexFiles.push(id);
      batch = [];
      batchBlobs = 0;
      await step('index-file-written', id);
    };
    for (const pack of keep) {
      batch.push(pack);
      batchBlobs += pack.blobs.length;
      if (batchBlobs >= INDEX_MAX_BLOBS) await writeBatch();
    }
    if (batch.length > 0) await writeBatch();
    // Verify before deleting: every new pack is stored with its size, and every new index file
    // reads back intact (hash, MAC). Only then may the old index files, and later the packs
    // they list, go.
    await verifyStored(repo, newPackSizes, [...result.repackIndexFiles, ...result.newIndexFiles]);
    await step('index-written');
    await step('deleting-index');
    const fresh = new Set(result.newIndexFiles);
    for (const id of oldIndexFiles) {
      if (fresh.has(id)) continue; // identical content, same name: it is the new file too
      if (await tryRemove('index', id)) {
        result.deletedIndexFiles.push(id);
        await step('old-index-file-deleted', id);
      }
    }
    await step('old-index-deleted');
    // The repository's in-memory index now matches the files (the dropped packs are gone from it).
    repo.setIndex(rebuilt);
    // An old index file that could not be deleted still lists the packs about to go: deleting
    // them would leave an index naming missing packs. Stop here, as restic does; the packs
    // stay (duplicates at worst) and the next prune finishes the job.
    const keptIndexFiles = result.failedDeletions.filter((f) => f.file.startsWith('index/'));
    if (keptIndexFiles.length > 0) {
      throw new ResticError(
        'FATAL',
        `unable to remove ${keptIndexFiles.length} obsolete index file(s) (${keptIndexFiles.map((f) => `${f.file}: ${f.error}`).join('; ')}); ` +
          'no pack was deleted, the repository is consistent; run prune again',
        { file: keptIndexFiles[0].file },
      );
    }
  }

  // 4. Old packs.
  if (plan.removePacks.size + plan.repackPacks.size > 0) {
    await checkNoForeignIndex();
    await step('deleting-packs');
  }
  for (const id of [...plan.removePacks, ...plan.repackPacks]) {
    if (await tryRemove('pack', id)) {
      result.deletedPacks.push(id);
      await step('pack-deleted', id);
    }
  }
  await step('done');
  return result;
}

/** Stat every new pack (size as written) and read back every new index file (hash and MAC checked). */
async function verifyStored(repo: Repository, packSizes: ReadonlyMap<Id, number>, indexFiles: readonly Id[]): Promise<void> {
  for (const [id, size] of packSizes) {
    const file = relativePath('pack', id);
    let stored: number;
    try {
      stored = (await repo.backend.stat('pack', id)).size;
    } catch (err) {
      throw new ResticError(isResticError(err) ? err.code : 'FATAL', `new pack ${file} cannot be found after it was written: ${(err as Error).message}; nothing was deleted`, { file, cause: err });
    }
    if (stored !== size) {
      throw new ResticError('CORRUPT', `new pack ${file} is stored with ${stored} bytes, ${size} were written; nothing was deleted`, { file });
    }
  }
  for (const id of indexFiles) {
    try {
      await repo.loadUnpacked('index', id);
    } catch (err) {
      const file = relativePath('index', id);
      throw new ResticError(isResticError(err) ? err.code : 'FATAL', `new index file ${file} does not read back: ${(err as Error).message}; nothing was deleted`, { file, cause: err });
    }
  }
}

/** Reads one blob out of an already loaded pack file; checks MAC, length and hash. */
async function blobFromPack(repo: Repository, packId: Id, packBytes: Uint8Array, blob: PackedBlob): Promise<Uint8Array> {
  const file = relativePath('pack', packId);
  const what = `${file}: ${blob.type} blob ${blob.id}`;
  if (blob.offset + blob.length > packBytes.length) {
    throw new ResticError('CORRUPT', `${what}: extends past the end of the pack`, { file });
  }
  let plaintext = open(repo.masterKey, packBytes.subarray(blob.offset, blob.offset + blob.length), what);
  if (blob.uncompressedLength !== 0) {
    plaintext = await decompress(plaintext, blob.uncompressedLength, what);
    if (plaintext.length !== blob.uncompressedLength) throw new ResticError('CORRUPT', `${what}: wrong decompressed length`, { file });
  }
  if (sha256Hex(plaintext) !== blob.id) throw new ResticError('CORRUPT', `${what}: content does not match its ID`, { file });
  return plaintext;
}

/** Blobs decrypted and compressed at once while repacking. */
const REPACK_CONCURRENCY = 4;

async function repack(
  repo: Repository,
  plan: PrunePlan,
  options: ApplyPruneOptions,
  onPackStored: (pack: { id: Id; blobs: PackedBlob[]; size: number }) => Promise<void>,
): Promise<{ indexFiles: Id[] }> {
  const index = repo.index;
  const remaining = new Set<BlobKey>(plan.keepBlobs);
  const packSize = options.packSize ?? DEFAULT_PACK_SIZE;
  const mode = options.compression ?? 'auto';
  const packers: Record<BlobType, Packer> = { data: new Packer('data'), tree: new Packer('tree') };
  const indexWriter = new IndexWriter((json) => saveUnpacked(repo, 'index', json, mode));

  const upload = async (packer: Packer): Promise<void> => {
    if (options.signal?.aborted) throw new ResticError('INTERRUPTED', 'prune interrupted; the repository is consistent, run prune again');
    const pack = packer.finish(repo.masterKey);
    await verifyPack(repo.masterKey, pack);
    await repo.backend.write('pack', pack.id, pack.bytes);
    indexWriter.addPack(pack.id, pack.blobs);
    await onPackStored({ id: pack.id, blobs: pack.blobs, size: pack.bytes.length });
  };

  /** Reads a pack whole; undefined when it cannot be read (each blob then falls back to another copy). */
  const readPack = async (packId: Id): Promise<Uint8Array | undefined> => {
    try {
      return await repo.backend.read('pack', packId);
    } catch (err) {
      if (!isResticError(err)) throw err;
      return undefined;
    }
  };
  /** Plaintext (verified) → compressed as configured → sealed. */
  const prepare = async (packId: Id, packBytes: Uint8Array | undefined, blob: PackedBlob): Promise<{ blob: PackedBlob; sealed: Uint8Array; uncompressedLength: number; rawLength: number }> => {
    let plaintext: Uint8Array;
    try {
      if (packBytes === undefined) throw new ResticError('FILE_NOT_FOUND', `pack ${shortId(packId)} could not be read`);
      plaintext = await blobFromPack(repo, packId, packBytes, blob);
    } catch (err) {
      try {
        plaintext = await repo.loadBlob(blob.type, blob.id); // another copy, if any is intact
      } catch {
        throw err;
      }
    }
    const level = blobCompression(repo.config.version, mode, blob.type, plaintext.length);
    const payload = level === null ? plaintext : await compress(plaintext, level);
    return { blob, sealed: seal(repo.masterKey, payload), uncompressedLength: level === null ? 0 : plaintext.length, rawLength: plaintext.length };
  };

  // Packs in a stable order (sorted IDs) so a rerun after a crash does the same work. The next
  // pack is read while the current one is processed; blobs are prepared a few at a time
  // (compression runs off the main thread) and added to the new packs in their old order.
  const order = [...plan.repackPacks].sort();
  let nextRead: Promise<Uint8Array | undefined> | undefined = order.length > 0 ? readPack(order[0]) : undefined;
  for (let p = 0; p < order.length; p++) {
    const packId = order[p];
    const packBytes = await nextRead;
    nextRead = p + 1 < order.length ? readPack(order[p + 1]) : undefined;
    nextRead?.catch(() => undefined); // awaited in the next round; no unhandled rejection if we stop first
    const wanted: PackedBlob[] = [];
    for (const b of index.blobsOfPack(packId)) {
      const key = blobKey(b.type, b.id);
      if (!remaining.has(key)) continue; // not needed, or an earlier pack held it too
      remaining.delete(key);
      wanted.push(b);
    }
    for (let i = 0; i < wanted.length; i += REPACK_CONCURRENCY) {
      const prepared = await Promise.all(wanted.slice(i, i + REPACK_CONCURRENCY).map((b) => prepare(packId, packBytes, b)));
      for (const r of prepared) {
        const packer = packers[r.blob.type];
        packer.add(r.blob.id, r.sealed, r.uncompressedLength, r.rawLength);
        if (packer.isFull(packSize)) {
          packers[r.blob.type] = new Packer(r.blob.type);
          await upload(packer);
        }
      }
    }
  }
  for (const type of ['tree', 'data'] as const) {
    if (packers[type].count > 0) await upload(packers[type]);
  }
  if (remaining.size > 0) {
    const list = [...remaining].slice(0, 5).map((k) => {
      const { type, id } = parseBlobKey(k);
      return `<${type}/${shortId(id)}>`;
    });
    throw new ResticError('FATAL', `internal error: blobs were not repacked: {${list.join(' ')}${remaining.size > 5 ? ' …' : ''}}`);
  }
  const indexFiles = await indexWriter.flush();
  return { indexFiles: [...indexFiles] };
}
