/**
 * Writes the content of many files at once in pack order, the way restic's file restorer
 * does: the blobs all files need are grouped by the pack holding them, each pack's needed
 * blobs are fetched with a few range reads (adjacent blobs, and blobs separated by small
 * gaps, in one request), every blob is checked and decoded once, and its plaintext is written
 * at its offset into each file that uses it (positional writes, files opened on first use and
 * closed when complete).
 *
 * Several ranges are in flight at once, bounded by a memory budget counting each range's
 * sealed bytes plus its blobs' decrypted and decompressed forms; within a range all blobs decode concurrently, so
 * zstd (which runs on libuv's thread pool) uses both cores while this thread does the MAC,
 * AES-CTR and SHA-256 of the next blob.
 *
 * A blob whose range read or checks fail is retried through Repository.loadBlob (every copy
 * the index lists; its error names pack and blob). When that fails too, every file using the
 * blob fails with that error and is removed at the end, like a half-written file before.
 */
import { close as fsClose, open as fsOpen, promises as fsp, write as fsWrite } from 'node:fs';
import { relativePath } from '../backend/backend.js';
import { ResticError, isResticError } from '../errors.js';
import type { Id } from '../format/id.js';
import type { BlobLocation } from '../index/master-index.js';
import type { Repository } from '../repository/repository.js';
import { decodeRunBlob, type DecodeWorkerPool } from './decode-worker.js';

/** One file to write. */
export interface ContentFile {
  /** Absolute path to create (truncating). */
  path: Buffer;
  /** The node's content blob IDs, in order. */
  content: readonly Id[];
  /** Called before the file is first opened (e.g. create its parent directory). */
  prepare?: () => Promise<void>;
}

export interface PackRestoreOptions {
  /** Worker threads decoding the ranges instead of this thread. */
  pool?: DecodeWorkerPool;
  /** Bytes of ranges and plaintexts in memory at once (default 24 MiB; one range may exceed it alone). */
  memoryBudget?: number;
  /** Range reads in flight (default 4). */
  readsInFlight?: number;
  /** After each blob is written to a file, with its length. */
  onBytes?: (n: number) => void;
  /** When a file is complete (all content written and closed). */
  onFileDone?: (index: number) => void;
  /** Throws to stop (e.g. on abort); called before each range. */
  checkAbort?: () => void;
}

/** Largest gap between two needed blobs still read in one request (bytes). */
const MAX_GAP = 256 * 1024;
/**
 * Largest cost of one range: sealed bytes plus plaintexts (a single larger blob is read alone).
 * Counting plaintexts keeps a range of well-compressed blobs from expanding 5-10× in memory.
 */
const MAX_RANGE_COST = 8 * 1024 * 1024;
const DEFAULT_BUDGET = 24 * 1024 * 1024;
/** Blobs of one range decoded and written at once. */
const BLOBS_IN_FLIGHT = 8;

interface Target {
  file: number;
  offset: number;
}

interface NeededBlob {
  id: Id;
  loc: BlobLocation;
  plainLength: number;
  targets: Target[];
}

interface Range {
  packId: Id;
  offset: number;
  length: number;
  blobs: NeededBlob[];
  cost: number;
}

interface FileState {
  remaining: number;
  /** The open file descriptor (raw fds: no FileHandle object and finalizer per file). */
  fd?: Promise<number>;
  error?: unknown;
  closed: boolean;
}

function plaintextLengthOf(loc: BlobLocation): number {
  return loc.uncompressedLength !== 0 ? loc.uncompressedLength : loc.length - 32;
}

/** Memory a blob takes while decoded: its plaintext, plus the decrypted zstd frame when compressed. */
function decodeCost(loc: BlobLocation): number {
  return plaintextLengthOf(loc) + (loc.uncompressedLength !== 0 ? loc.length : 0);
}

function openForWriting(path: Buffer): Promise<number> {
  return new Promise((resolve, reject) => fsOpen(path, 'w', 0o600, (err, fd) => (err ? reject(err) : resolve(fd))));
}

function writeAt(fd: number, data: Uint8Array, offset: number, length: number, position: number): Promise<number> {
  return new Promise((resolve, reject) => fsWrite(fd, data, offset, length, position, (err, written) => (err ? reject(err) : resolve(written))));
}

function closeFd(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fsClose(fd, (err) => (err ? reject(err) : resolve())));
}

/** Groups the needed blobs per pack (packs in order of first use) and cuts them into ranges. */
function planRanges(repo: Repository, files: readonly ContentFile[], states: FileState[]): Range[] {
  const packs = new Map<Id, Map<Id, NeededBlob>>();
  files.forEach((file, index) => {
    let offset = 0;
    const mine: { blob: NeededBlob | undefined; id: Id; loc: BlobLocation; offset: number }[] = [];
    for (const id of file.content) {
      const loc = repo.index.lookup('data', id)[0];
      if (!loc) {
        states[index].error = new ResticError('BLOB_NOT_FOUND', `data blob ${id} is not in the index`);
        return;
      }
      mine.push({ blob: undefined, id, loc, offset });
      offset += plaintextLengthOf(loc);
    }
    states[index].remaining = offset;
    for (const m of mine) {
      let pack = packs.get(m.loc.packId);
      if (!pack) packs.set(m.loc.packId, (pack = new Map()));
      let blob = pack.get(m.id);
      if (!blob) pack.set(m.id, (blob = { id: m.id, loc: m.loc, plainLength: plaintextLengthOf(m.loc), targets: [] }));
      blob.targets.push({ file: index, offset: m.offset });
    }
  });
  const ranges: Range[] = [];
  for (const [packId, blobs] of packs) {
    const sorted = [...blobs.values()].sort((a, b) => a.loc.offset - b.loc.offset);
    let current: Range | undefined;
    for (const blob of sorted) {
      const end = blob.loc.offset + blob.loc.length;
      if (current && blob.loc.offset - (current.offset + current.length) <= MAX_GAP) {
        const cost = current.cost - current.length + (end - current.offset) + decodeCost(blob.loc);
        if (cost <= MAX_RANGE_COST) {
          current.length = end - current.offset;
          current.blobs.push(blob);
          current.cost = cost;
          continue;
        }
      }
      current = { packId, offset: blob.loc.offset, length: blob.loc.length, blobs: [blob], cost: blob.loc.length + decodeCost(blob.loc) };
      ranges.push(current);
    }
  }
  return ranges;
}

/**
 * Writes `files` (each created with mode 0600, truncated). Returns, per file index, the error
 * that made it fail (the file is then removed); files not in the map were written completely.
 * Throws only what `checkAbort` throws.
 */
export async function restoreFileContents(repo: Repository, files: readonly ContentFile[], options: PackRestoreOptions = {}): Promise<Map<number, unknown>> {
  const states: FileState[] = files.map(() => ({ remaining: 0, closed: false }));
  const ranges = planRanges(repo, files, states);
  const budget = options.memoryBudget ?? DEFAULT_BUDGET;
  const maxReads = Math.max(1, options.readsInFlight ?? 4);

  const openFile = (index: number): Promise<number> => {
    const state = states[index];
    if (!state.fd) {
      state.fd = (async () => {
        await files[index].prepare?.();
        return openForWriting(files[index].path);
      })();
      state.fd.catch(() => undefined);
    }
    return state.fd;
  };
  /** Closes a file's descriptor exactly once (a second close could hit a reused fd). */
  const closeFile = async (index: number): Promise<void> => {
    const state = states[index];
    if (state.closed) return;
    state.closed = true;
    const fd = await state.fd?.catch(() => undefined);
    if (fd !== undefined) await closeFd(fd);
  };
  const fail = (index: number, err: unknown): void => {
    if (states[index].error === undefined) states[index].error = err;
  };
  const finish = async (index: number): Promise<void> => {
    if (states[index].closed) return;
    await openFile(index);
    await closeFile(index);
    options.onFileDone?.(index);
  };

  const writeBlob = async (blob: NeededBlob, plaintext: Uint8Array): Promise<void> => {
    await Promise.all(
      blob.targets.map(async ({ file, offset }) => {
        const state = states[file];
        if (state.error !== undefined) return;
        try {
          const fd = await openFile(file);
          let off = 0;
          while (off < plaintext.length) off += await writeAt(fd, plaintext, off, plaintext.length - off, offset + off);
          options.onBytes?.(plaintext.length);
          state.remaining -= plaintext.length;
          if (state.remaining === 0 && state.error === undefined) await finish(file);
        } catch (err) {
          fail(file, err);
        }
      }),
    );
  };

  const loadAlone = async (blob: NeededBlob): Promise<void> => {
    let plaintext: Uint8Array;
    try {
      plaintext = await repo.loadBlob('data', blob.id);
    } catch (err) {
      for (const t of blob.targets) fail(t.file, err);
      return;
    }
    await writeBlob(blob, plaintext);
  };

  const processRange = async (range: Range): Promise<void> => {
    let bytes: Uint8Array | undefined;
    try {
      bytes = await repo.backend.read('pack', range.packId, { offset: range.offset, length: range.length });
      if (bytes.length !== range.length) bytes = undefined;
    } catch {
      bytes = undefined; // every blob then goes through loadBlob, which names the problem
    }
    const live = range.blobs.filter((b) => b.targets.some((t) => states[t.file].error === undefined));
    if (!bytes) {
      for (const blob of live) await loadAlone(blob);
      return;
    }
    const file = relativePath('pack', range.packId);
    if (options.pool) {
      const reply = await options.pool.decode({
        what: file,
        bytes,
        blobs: live.map((b) => ({ id: b.id, start: b.loc.offset - range.offset, length: b.loc.length, uncompressedLength: b.loc.uncompressedLength })),
      });
      await Promise.all(live.map((blob, i) => (reply.plaintexts[i] ? writeBlob(blob, reply.plaintexts[i]!) : loadAlone(blob))));
      return;
    }
    const sealed = bytes;
    // a few blobs at a time: enough to keep zstd busy on the thread pool, while a range of
    // thousands of tiny blobs does not open thousands of files at once
    let nextBlob = 0;
    const decoder = async (): Promise<void> => {
      while (nextBlob < live.length) {
        const blob = live[nextBlob++];
        const start = blob.loc.offset - range.offset;
        let plaintext: Uint8Array;
        try {
          plaintext = await decodeRunBlob(repo.masterKey, sealed.subarray(start, start + blob.loc.length), blob.id, blob.loc.uncompressedLength, file);
        } catch {
          await loadAlone(blob); // other copies, and restic-style error reporting
          continue;
        }
        await writeBlob(blob, plaintext);
      }
    };
    await Promise.all(Array.from({ length: Math.min(BLOBS_IN_FLIGHT, live.length) }, decoder));
  };

  // a small scheduler: ranges start in order while reads and the memory budget allow
  let inFlight = 0;
  let usedBytes = 0;
  let next = 0;
  let abortError: unknown;
  await new Promise<void>((resolveAll) => {
    const pump = (): void => {
      while (abortError === undefined && next < ranges.length && inFlight < maxReads && (inFlight === 0 || usedBytes + ranges[next].cost <= budget)) {
        try {
          options.checkAbort?.();
        } catch (err) {
          abortError = err;
          break;
        }
        const range = ranges[next++];
        inFlight++;
        usedBytes += range.cost;
        processRange(range)
          .catch((err: unknown) => {
            // unexpected (decoding errors are per blob): fail the files of this range
            for (const b of range.blobs) for (const t of b.targets) fail(t.file, err);
          })
          .finally(() => {
            inFlight--;
            usedBytes -= range.cost;
            pump();
          });
      }
      if (inFlight === 0 && (next >= ranges.length || abortError !== undefined)) resolveAll();
    };
    pump();
  });

  // files with nothing to write (content of empty blobs only), then close and clean up failures
  for (let i = 0; i < files.length; i++) {
    const state = states[i];
    if (state.error === undefined && !state.closed && state.remaining === 0 && abortError === undefined) {
      try {
        await finish(i);
      } catch (err) {
        fail(i, err);
      }
    }
  }
  const failures = new Map<number, unknown>();
  for (let i = 0; i < files.length; i++) {
    const state = states[i];
    if (state.error === undefined && (state.closed || abortError !== undefined)) continue;
    if (state.error === undefined) state.error = new ResticError('IO', `${files[i].path.toString()}: content incomplete`);
    failures.set(i, state.error);
    if (state.fd) {
      await closeFile(i).catch(() => undefined);
      if (!isResticError(state.error, 'INTERRUPTED')) await fsp.rm(files[i].path, { force: true }).catch(() => undefined);
    }
  }
  if (abortError !== undefined) {
    for (let i = 0; i < states.length; i++) await closeFile(i).catch(() => undefined);
    throw abortError;
  }
  return failures;
}
