/**
 * Reads a file's data blobs with as few backend requests as possible: consecutive content
 * blobs stored next to each other in one pack (the usual case: backup writes a file's chunks
 * in order) are fetched with a single range read, then each is checked and decoded like
 * Repository.loadBlob does (MAC, decrypt, decompress, SHA-256 against the ID). On S3 this turns
 * one GET per blob into one GET per run of blobs. Decoding can run in worker threads.
 *
 * A blob whose range read fails its checks is retried through Repository.loadBlob, which
 * tries every copy the index lists and reports the last error (naming pack and blob).
 */
import { relativePath } from '../backend/backend.js';
import { ResticError } from '../errors.js';
import type { Id } from '../format/id.js';
import type { BlobLocation } from '../index/master-index.js';
import type { Repository } from '../repository/repository.js';
import { decodeRunBlob, type DecodeWorkerPool } from './decode-worker.js';

/** Largest single range read (bytes). */
const MAX_RUN_BYTES = 16 * 1024 * 1024;

export interface BlobRun {
  packId: Id;
  offset: number;
  length: number;
  blobs: { id: Id; loc: BlobLocation }[];
}

/** Groups `ids` (in order) into runs of blobs adjacent in one pack. BLOB_NOT_FOUND for an unknown blob. */
export function planRuns(repo: Repository, ids: readonly Id[], maxRunBytes = MAX_RUN_BYTES): BlobRun[] {
  const runs: BlobRun[] = [];
  for (const id of ids) {
    const loc = repo.index.lookup('data', id)[0];
    if (!loc) throw new ResticError('BLOB_NOT_FOUND', `data blob ${id} is not in the index`);
    const last = runs[runs.length - 1];
    if (last && last.packId === loc.packId && last.offset + last.length === loc.offset && last.length + loc.length <= maxRunBytes) {
      last.length += loc.length;
      last.blobs.push({ id, loc });
    } else {
      runs.push({ packId: loc.packId, offset: loc.offset, length: loc.length, blobs: [{ id, loc }] });
    }
  }
  return runs;
}

/**
 * Fetches one run and returns its blobs' plaintexts in order, decoded in `pool`'s worker
 * threads when given, else on this thread.
 */
export async function readRun(repo: Repository, run: BlobRun, pool?: DecodeWorkerPool): Promise<Uint8Array[]> {
  let bytes: Uint8Array | undefined;
  try {
    bytes = await repo.backend.read('pack', run.packId, { offset: run.offset, length: run.length });
    if (bytes.length !== run.length) bytes = undefined;
  } catch {
    bytes = undefined; // every blob then goes through loadBlob, which names the problem
  }
  const file = relativePath('pack', run.packId);
  if (bytes && pool) {
    const blobs = run.blobs.map(({ id, loc }) => ({ id, start: loc.offset - run.offset, length: loc.length, uncompressedLength: loc.uncompressedLength }));
    const reply = await pool.decode({ what: file, bytes, blobs });
    const out: Uint8Array[] = [];
    for (let i = 0; i < run.blobs.length; i++) out.push(reply.plaintexts[i] ?? (await repo.loadBlob('data', run.blobs[i].id)));
    return out;
  }
  // a few blobs at once: zstd runs on libuv's thread pool, so one blob's decompression overlaps
  // the next one's MAC, AES and SHA-256 here (the run's plaintexts are all returned anyway)
  const out: Uint8Array[] = new Array(run.blobs.length);
  const failures = new Map<number, unknown>();
  let next = 0;
  const decoder = async (): Promise<void> => {
    while (next < run.blobs.length) {
      const i = next++;
      const { id, loc } = run.blobs[i];
      if (bytes) {
        const start = loc.offset - run.offset;
        try {
          out[i] = await decodeRunBlob(repo.masterKey, bytes.subarray(start, start + loc.length), id, loc.uncompressedLength, file);
          continue;
        } catch {
          // fall through: other copies, and restic-style error reporting
        }
      }
      try {
        out[i] = await repo.loadBlob('data', id);
      } catch (err) {
        failures.set(i, err);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(4, run.blobs.length) }, decoder));
  // the error of the first failing blob in file order, as when they were read one by one
  if (failures.size > 0) throw failures.get(Math.min(...failures.keys()));
  return out;
}
