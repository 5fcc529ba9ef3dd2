/**
 * A structural check of a repository, run after a rollback: every snapshot loads, the index
 * loads, every tree reachable from a snapshot loads and decodes, every blob a tree names is
 * in the index, and every pack the index names exists with at least the size the index
 * implies. Pack contents are not read (that is `check --read-data`'s job; the real restic
 * does it in the tests).
 */
import type { Id } from '../format/id.js';
import type { Repository } from '../repository/repository.js';

export interface StructureReport {
  snapshots: number;
  trees: number;
  dataBlobs: number;
  packs: number;
  /** Human-readable problems; empty when the repository is structurally sound. */
  problems: string[];
}

export interface StructureCheckOptions {
  /** Stop collecting after this many problems (default 100). */
  maxProblems?: number;
  signal?: AbortSignal;
}

export async function checkStructure(repo: Repository, options: StructureCheckOptions = {}): Promise<StructureReport> {
  const maxProblems = options.maxProblems ?? 100;
  const report: StructureReport = { snapshots: 0, trees: 0, dataBlobs: 0, packs: 0, problems: [] };
  const problem = (text: string) => {
    if (report.problems.length < maxProblems) report.problems.push(text);
  };
  const snapshots = await repo.listSnapshots();
  report.snapshots = snapshots.length;
  const index = await repo.loadIndex();

  // Packs: the end of the furthest blob in each pack must fit in the stored file.
  const packEnds = new Map<Id, number>();
  for (const packId of index.packIds()) {
    let end = 0;
    for (const b of index.blobsOfPack(packId)) end = Math.max(end, b.offset + b.length);
    packEnds.set(packId, end);
  }
  const stored = new Map<Id, number>();
  for await (const f of repo.backend.list('pack')) stored.set(f.name, f.size);
  for (const [packId, end] of packEnds) {
    const size = stored.get(packId);
    if (size === undefined) problem(`pack ${packId} is in the index but missing`);
    else if (size < end) problem(`pack ${packId} is ${size} bytes, shorter than its indexed blobs (${end} bytes)`);
  }
  report.packs = packEnds.size;

  const seenTrees = new Set<Id>();
  const seenData = new Set<Id>();
  const pending: Array<{ tree: Id; where: string }> = snapshots.map((s) => ({ tree: s.snapshot.tree, where: `snapshot ${s.id.slice(0, 8)}` }));
  while (pending.length > 0) {
    options.signal?.throwIfAborted();
    const { tree: treeId, where } = pending.pop()!;
    if (seenTrees.has(treeId)) continue;
    seenTrees.add(treeId);
    if (!index.has('tree', treeId)) {
      problem(`tree ${treeId} (${where}) is not in the index`);
      continue;
    }
    let tree;
    try {
      tree = await repo.loadTree(treeId);
    } catch (err) {
      problem(`tree ${treeId} (${where}) cannot be loaded: ${(err as Error).message}`);
      continue;
    }
    for (const node of tree.nodes) {
      if (node.subtree) pending.push({ tree: node.subtree, where: `${where}: ${node.nameText}` });
      for (const blob of node.content ?? []) {
        if (seenData.has(blob)) continue;
        seenData.add(blob);
        if (!index.has('data', blob)) problem(`data blob ${blob} of ${where}/${node.nameText} is not in the index`);
      }
    }
  }
  report.trees = seenTrees.size;
  report.dataBlobs = seenData.size;
  return report;
}
