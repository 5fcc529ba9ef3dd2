/**
 * `copy`: copies snapshots from one repository to another, as restic 0.14 does.
 *
 * - A source snapshot is skipped when the destination already has a "similar" one with the
 *   same persistent ID (its `original`, or its own ID): same time, tree, host, user, uid,
 *   gid, paths, tags and excludes (restic's similarSnapshots).
 * - Every tree reachable from the snapshot and every data blob they list is copied unless
 *   the destination index has it. Blobs are copied as stored content: the plaintext is read
 *   from the source (MAC, decompression and hash checked) and saved with the destination's
 *   key and compression. Trees are never decoded and re-encoded, so tree IDs stay the same.
 * - Chunker polynomials: restic copies blobs as they are, whatever the polynomials; so do we
 *   (rechunking would change file contents' blob lists and with them every tree ID). The
 *   result is correct either way; only later deduplication between backups made in the
 *   destination and copied data suffers (`init --copy-chunker-params` avoids that).
 *   `polynomialsDiffer` in the result tells the caller to warn.
 * - Order: packs and index are flushed before the snapshot file is written; `parent` is
 *   dropped and `original` set when unset.
 */
import type { Id } from '../format/id.js';
import { parseTree } from '../format/node.js';
import { encodeSnapshotBytes, type Snapshot } from '../format/snapshot.js';
import { BlobSaver } from '../repository/blob-saver.js';
import type { Repository, SnapshotEntry } from '../repository/repository.js';

export type CopyEvent =
  | { kind: 'snapshot'; id: Id; snapshot: Snapshot }
  | { kind: 'skipped'; id: Id; existing: Id }
  | { kind: 'copy-started'; id: Id }
  | { kind: 'saved'; id: Id; newId: Id };

export interface CopyOptions {
  onEvent?: (event: CopyEvent) => void;
  /** Blobs loaded at once (default 4). */
  concurrency?: number;
  /** Worker threads of the destination's blob saver (default: BlobSaver's default). */
  workers?: number;
}

export interface CopyResult {
  copied: { id: Id; newId: Id }[];
  skipped: { id: Id; existing: Id }[];
  treeBlobs: number;
  dataBlobs: number;
  polynomialsDiffer: boolean;
}

/** restic 0.14's similarSnapshots: everything but parent and original. */
export function similarSnapshots(a: Snapshot, b: Snapshot): boolean {
  if (a.time.compare(b.time) !== 0 || a.tree !== b.tree) return false;
  if ((a.hostname ?? '') !== (b.hostname ?? '') || (a.username ?? '') !== (b.username ?? '')) return false;
  if ((a.uid ?? 0) !== (b.uid ?? 0) || (a.gid ?? 0) !== (b.gid ?? 0)) return false;
  const pa = a.paths ?? [];
  const pb = b.paths ?? [];
  const ta = a.tags ?? [];
  const tb = b.tags ?? [];
  const ea = a.excludes ?? [];
  const eb = b.excludes ?? [];
  if (pa.length !== pb.length || ta.length !== tb.length || ea.length !== eb.length) return false;
  if (!pb.every((p) => pa.includes(p)) || !tb.every((t) => ta.includes(t))) return false;
  return ea.every((e, i) => e === eb[i]);
}

export async function copySnapshots(src: Repository, dst: Repository, snapshots: readonly SnapshotEntry[], options: CopyOptions = {}): Promise<CopyResult> {
  const emit = options.onEvent ?? (() => undefined);
  const concurrency = Math.max(1, options.concurrency ?? 4);
  const result: CopyResult = {
    copied: [],
    skipped: [],
    treeBlobs: 0,
    dataBlobs: 0,
    polynomialsDiffer: src.config.chunker_polynomial !== dst.config.chunker_polynomial,
  };
  const byOriginal = new Map<Id, SnapshotEntry[]>();
  const remember = (key: Id, entry: SnapshotEntry): void => {
    const list = byOriginal.get(key);
    if (list) list.push(entry);
    else byOriginal.set(key, [entry]);
  };
  for (const entry of await dst.listSnapshots()) {
    if (entry.snapshot.original) remember(entry.snapshot.original, entry);
    remember(entry.id, entry);
  }
  await src.loadIndex();
  const dstIndex = await dst.loadIndex();
  const saverOptions: ConstructorParameters<typeof BlobSaver>[0] = {
    backend: dst.backend,
    key: dst.masterKey,
    repoVersion: dst.config.version,
    index: dstIndex,
    saveIndexFile: (json) => dst.saveUnpacked('index', json),
    compression: dst.compression,
  };
  if (options.workers !== undefined) saverOptions.workers = options.workers;
  const saver = new BlobSaver(saverOptions);
  const visitedTrees = new Set<Id>();
  try {
    for (const { id, snapshot } of snapshots) {
      emit({ kind: 'snapshot', id, snapshot });
      const persistent = snapshot.original ?? id;
      const existing = (byOriginal.get(persistent) ?? []).find((e) => similarSnapshots(e.snapshot, snapshot));
      if (existing) {
        result.skipped.push({ id, existing: existing.id });
        emit({ kind: 'skipped', id, existing: existing.id });
        continue;
      }
      emit({ kind: 'copy-started', id });
      const queue: Id[] = [snapshot.tree];
      while (queue.length > 0) {
        const treeId = queue.shift() as Id;
        if (visitedTrees.has(treeId)) continue;
        visitedTrees.add(treeId);
        const bytes = await src.loadBlob('tree', treeId);
        if (!saver.has('tree', treeId)) {
          // a copy: saveBlob may hand the buffer to a worker thread
          await saver.saveBlob('tree', bytes.slice(), treeId);
          result.treeBlobs++;
        }
        const tree = parseTree(bytes, treeId);
        const missing: Id[] = [];
        const seen = new Set<Id>();
        for (const node of tree.nodes) {
          if (node.type === 'file') {
            for (const blob of node.content ?? []) {
              if (!seen.has(blob) && !saver.has('data', blob)) missing.push(blob);
              seen.add(blob);
            }
          } else if (node.type === 'dir' && node.subtree) {
            queue.push(node.subtree);
          }
        }
        let next = 0;
        const worker = async (): Promise<void> => {
          while (next < missing.length) {
            const blob = missing[next++];
            const data = await src.loadBlob('data', blob);
            const saved = await saver.saveBlob('data', data, blob);
            if (!saved.known) result.dataBlobs++;
          }
        };
        const workers: Promise<void>[] = [];
        for (let i = 0; i < Math.min(concurrency, missing.length); i++) workers.push(worker());
        await Promise.all(workers);
      }
      await saver.flush();
      const copy: Snapshot = { ...snapshot, original: snapshot.original ?? id };
      delete copy.parent;
      delete copy.id;
      const newId = await dst.saveUnpacked('snapshot', encodeSnapshotBytes(copy));
      const entry = { id: newId, snapshot: copy };
      remember(copy.original as Id, entry);
      result.copied.push({ id, newId });
      emit({ kind: 'saved', id, newId });
    }
  } finally {
    await saver.close();
  }
  return result;
}
