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
 * - Chunker polynomials: restic 0.14 copies blobs as they are, whatever the polynomials. We
 *   do that only when the polynomials match. When they differ we rechunk: each file's content
 *   is streamed from the source, cut with the destination's polynomial and saved as new data
 *   blobs, so later backups into the destination deduplicate against the copy. Nodes keep
 *   every field but `content` (dirs: `subtree`); trees are re-encoded and saved bottom-up, so
 *   tree IDs (and the snapshot's `tree`) change. Because of that, the "already copied" test
 *   for a rechunked copy ignores `tree` (the persistent ID already ties the copy to its
 *   source); restic's own copy will not recognise rechunked copies as done.
 * - Order: packs and index are flushed before the snapshot file is written; `parent` is
 *   dropped and `original` set when unset.
 */
import type { Id } from '../format/id.js';
import type { Polynomial } from '../chunker/polynomial.js';
import { chunkStream } from '../chunker/stream.js';
import { ResticError } from '../errors.js';
import { shortId } from '../format/id.js';
import { encodeTree, parseTree, type TreeNode } from '../format/node.js';
import { encodeSnapshotBytes, type Snapshot } from '../format/snapshot.js';
import { BlobSaver } from '../repository/blob-saver.js';
import type { Repository, SnapshotEntry } from '../repository/repository.js';
import { streamFileContent } from '../restorer/walker.js';

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
  /** True when the polynomials differ: file contents were rechunked for the destination. */
  polynomialsDiffer: boolean;
  /** Files whose content was rechunked (0 when the polynomials match). */
  rechunkedFiles: number;
}

/** restic 0.14's similarSnapshots: everything but parent and original. */
export function similarSnapshots(a: Snapshot, b: Snapshot, compareTree = true): boolean {
  if (a.time.compare(b.time) !== 0 || (compareTree && a.tree !== b.tree)) return false;
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
    rechunkedFiles: 0,
  };
  const rechunk = result.polynomialsDiffer;
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
  const rechunker = new Rechunker(src, saver, dst.config.chunker_polynomial, concurrency, result);
  try {
    for (const { id, snapshot } of snapshots) {
      emit({ kind: 'snapshot', id, snapshot });
      const persistent = snapshot.original ?? id;
      const existing = (byOriginal.get(persistent) ?? []).find((e) => similarSnapshots(e.snapshot, snapshot, !rechunk));
      if (existing) {
        result.skipped.push({ id, existing: existing.id });
        emit({ kind: 'skipped', id, existing: existing.id });
        continue;
      }
      emit({ kind: 'copy-started', id });
      if (rechunk) {
        const tree = await rechunker.tree(snapshot.tree);
        await saver.flush();
        const copy: Snapshot = { ...snapshot, tree, original: snapshot.original ?? id };
        delete copy.parent;
        delete copy.id;
        const newId = await dst.saveUnpacked('snapshot', encodeSnapshotBytes(copy));
        remember(copy.original as Id, { id: newId, snapshot: copy });
        result.copied.push({ id, newId });
        emit({ kind: 'saved', id, newId });
        continue;
      }
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

/**
 * Rewrites trees for a destination with another chunker polynomial. Source tree → new tree and
 * source content list → new content list are remembered, so unchanged subtrees and files
 * shared between snapshots are rechunked once per run.
 */
class Rechunker {
  private readonly trees = new Map<Id, Promise<Id>>();
  private readonly contents = new Map<string, Promise<Id[]>>();

  constructor(
    private readonly src: Repository,
    private readonly saver: BlobSaver,
    private readonly polynomial: Polynomial,
    /** Data blobs being saved at once per file. */
    private readonly blobsInFlight: number,
    private readonly counts: CopyResult,
  ) {}

  /** The destination ID of source tree `id` (saved bottom-up: subtrees and contents first). */
  tree(id: Id): Promise<Id> {
    let p = this.trees.get(id);
    if (!p) {
      p = this.rewriteTree(id);
      this.trees.set(id, p);
    }
    return p;
  }

  private async rewriteTree(id: Id): Promise<Id> {
    const source = parseTree(await this.src.loadBlob('tree', id), id);
    const nodes: TreeNode[] = [];
    for (const node of source.nodes) {
      if (node.type === 'file' && node.content && node.content.length > 0) {
        nodes.push({ ...node, content: await this.content(node) });
      } else if (node.type === 'dir' && node.subtree) {
        nodes.push({ ...node, subtree: await this.tree(node.subtree) });
      } else {
        nodes.push(node);
      }
    }
    const saved = await this.saver.saveBlob('tree', encodeTree(nodes));
    if (!saved.known) this.counts.treeBlobs++;
    return saved.id;
  }

  private content(node: TreeNode): Promise<Id[]> {
    const key = (node.content ?? []).join(',');
    let p = this.contents.get(key);
    if (!p) {
      p = this.rechunkFile(node);
      this.contents.set(key, p);
    }
    return p;
  }

  /** Streams the file from the source, cuts it with the destination's polynomial, saves the chunks. */
  private async rechunkFile(node: TreeNode): Promise<Id[]> {
    const ids: Id[] = [];
    const inFlight: Promise<void>[] = [];
    let size = 0n;
    let slot = 0;
    try {
      for await (const chunk of chunkStream(streamFileContent(this.src, node), this.polynomial)) {
        size += BigInt(chunk.length);
        const at = slot++;
        // chunks may be views into the source's buffers: no transfer to a worker thread
        const p = this.saver.saveBlob('data', chunk).then((r) => {
          ids[at] = r.id;
          if (!r.known) this.counts.dataBlobs++;
        });
        inFlight.push(p);
        if (inFlight.length >= this.blobsInFlight) await inFlight.shift();
      }
    } finally {
      const settled = await Promise.allSettled(inFlight);
      for (const r of settled) if (r.status === 'rejected') throw r.reason;
    }
    // The source blobs are verified by their IDs; the size is the file-level check restic's
    // tree gives us (there is no whole-file hash in a node).
    if (size !== node.size) {
      throw new ResticError('CORRUPT', `copy: file ${JSON.stringify(node.nameText)} has ${size} bytes in its content blobs (${(node.content ?? []).map(shortId).join(', ')}) but its node says ${node.size}`);
    }
    this.counts.rechunkedFiles++;
    return ids;
  }
}
