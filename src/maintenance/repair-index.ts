/**
 * `repair index` (restic 0.14: `rebuild-index`): writes a new set of index files describing
 * exactly the pack files that exist, then deletes every old index file.
 *
 * As restic: index entries of a pack are reused when the pack exists with the size the old
 * index implies; every other pack (not indexed, wrong size, or all with `readAllPacks`) has
 * its header read. Damaged index files are skipped (their packs get read instead). Packs
 * whose header cannot be read are left out of the index and reported. Order is crash-safe:
 * the new index files are stored before any old one is deleted.
 */
import { relativePath } from '../backend/backend.js';
import { TransientBackendError } from '../backend/errors.js';
import { ResticError, isResticError } from '../errors.js';
import type { Id } from '../format/id.js';
import { parseIndexFile } from '../index/index-file.js';
import { MasterIndex } from '../index/master-index.js';
import type { PackedBlob } from '../pack/header.js';
import { readPackHeader } from '../pack/reader.js';
import { IndexWriter } from '../repository/index-writer.js';
import type { Repository } from '../repository/repository.js';

export interface RepairIndexOptions {
  /** Ignore the old index entirely and read every pack header. */
  readAllPacks?: boolean;
  /** Pack headers read at once (default 4). */
  concurrency?: number;
  onProgress?: (event: RepairIndexEvent) => void;
}

export type RepairIndexEvent =
  | { kind: 'index-damaged'; file: string; message: string }
  | { kind: 'read-packs'; total: number }
  | { kind: 'pack-read'; packId: Id }
  | { kind: 'pack-damaged'; packId: Id; file: string; message: string }
  | { kind: 'delete-old'; total: number };

export interface RepairIndexResult {
  /** Packs in the new index. */
  packs: number;
  /** Headers read from pack files. */
  packsRead: number;
  /** Packs left out because their header is unreadable. */
  damagedPacks: Id[];
  /** Index entries dropped because their pack is missing. */
  missingPacks: Id[];
  newIndexFiles: Id[];
  removedIndexFiles: Id[];
}

/**
 * Errors that mean a file is damaged or gone. Anything else (a server error after the retries,
 * a permission problem, an interruption) aborts the repair before any old index file goes.
 */
const DAMAGE_CODES: ReadonlySet<string> = new Set(['CORRUPT', 'MAC_FAILED', 'FILE_NOT_FOUND', 'UNSUPPORTED_VERSION']);

function isDamage(err: unknown): err is ResticError {
  return isResticError(err) && !(err instanceof TransientBackendError) && DAMAGE_CODES.has(err.code);
}

export async function repairIndex(repo: Repository, options: RepairIndexOptions = {}): Promise<RepairIndexResult> {
  const emit = options.onProgress ?? (() => undefined);
  const oldIndexFiles = await repo.listIds('index');
  const old = new MasterIndex();
  if (!options.readAllPacks) {
    for (const fileId of oldIndexFiles) {
      try {
        old.addIndexFile(fileId, parseIndexFile(await repo.loadUnpacked('index', fileId), fileId));
      } catch (err) {
        if (!isDamage(err)) throw err;
        emit({ kind: 'index-damaged', file: relativePath('index', fileId), message: err.message });
      }
    }
  }
  const stored = new Map<Id, number>();
  for await (const info of repo.list('pack')) stored.set(info.name.toLowerCase(), info.size);
  // An indexed pack the listing does not show is asked for directly before its entries are
  // dropped: a listing that lags behind (an eventually consistent store) must not turn an
  // existing pack into an unreferenced one, which the next prune would delete.
  for (const packId of old.packIds()) {
    if (stored.has(packId)) continue;
    try {
      stored.set(packId, (await repo.backend.stat('pack', packId)).size);
    } catch (err) {
      if (!isResticError(err, 'FILE_NOT_FOUND')) throw err;
    }
  }

  const packs = new Map<Id, PackedBlob[]>();
  const toRead: Id[] = [];
  for (const [packId, size] of [...stored].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
    if (!options.readAllPacks && old.hasPack(packId) && old.packSize(packId) === size) packs.set(packId, old.blobsOfPack(packId));
    else toRead.push(packId);
  }
  const missingPacks = old.packIds().filter((p) => !stored.has(p)).sort();
  emit({ kind: 'read-packs', total: toRead.length });
  const damagedPacks: Id[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < toRead.length) {
      const packId = toRead[next++];
      try {
        packs.set(packId, await readPackHeader(repo.backend, repo.masterKey, packId, stored.get(packId)));
        emit({ kind: 'pack-read', packId });
      } catch (err) {
        // A pack left out here ends up unreferenced once the old index files are deleted, and
        // the next prune deletes it: only a pack that is really damaged (or gone) may be left out.
        if (!isDamage(err)) throw err;
        damagedPacks.push(packId);
        emit({ kind: 'pack-damaged', packId, file: relativePath('pack', packId), message: err.message });
      }
    }
  };
  const workers: Promise<void>[] = [];
  for (let i = 0; i < Math.max(1, options.concurrency ?? 4); i++) workers.push(worker());
  await Promise.all(workers);

  const writer = new IndexWriter((json) => repo.saveUnpacked('index', json));
  const fresh = new MasterIndex();
  for (const packId of [...packs.keys()].sort()) {
    const blobs = packs.get(packId) as PackedBlob[];
    writer.addPack(packId, blobs);
    fresh.addPack(packId, blobs);
  }
  const newIndexFiles = [...(await writer.flush())];
  // Verify before deleting: every new index file reads back intact (hash, MAC) before the
  // old ones, which still describe every pack, are deleted.
  for (const id of newIndexFiles) {
    try {
      await repo.loadUnpacked('index', id);
    } catch (err) {
      const file = relativePath('index', id);
      throw new ResticError(isResticError(err) ? err.code : 'FATAL', `new index file ${file} does not read back: ${(err as Error).message}; no old index file was deleted`, { file, cause: err });
    }
  }
  const keep = new Set(newIndexFiles);
  const toRemove = oldIndexFiles.filter((id) => !keep.has(id));
  emit({ kind: 'delete-old', total: toRemove.length });
  for (const id of toRemove) await repo.backend.remove('index', id);
  repo.setIndex(fresh);
  return { packs: packs.size, packsRead: toRead.length - damagedPacks.length, damagedPacks: damagedPacks.sort(), missingPacks, newIndexFiles, removedIndexFiles: toRemove };
}
