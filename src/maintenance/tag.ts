/**
 * `tag --add|--remove|--set`: changes a snapshot's tags the way restic does. A snapshot file
 * is named by its hash, so a change means writing a new snapshot file and deleting the old
 * one; `original` records the first ID the snapshot had (set only when still unset).
 */
import { relativePath } from '../backend/backend.js';
import { ResticError, isResticError } from '../errors.js';
import type { Id } from '../format/id.js';
import { encodeSnapshotBytes, type Snapshot } from '../format/snapshot.js';
import type { Repository, SnapshotEntry } from '../repository/repository.js';

export interface TagChange {
  add?: readonly string[];
  remove?: readonly string[];
  /** Replaces the tags (`[""]` means no tags, as restic). Exclusive with add/remove. */
  set?: readonly string[];
}

export interface TagResult {
  /** Snapshots rewritten: old ID → new ID. */
  modified: { oldId: Id; newId: Id }[];
}

/** restic's changeTags: the new tag list, or undefined when nothing changes. `--set` always counts as a change. */
export function applyTagChange(tags: readonly string[] | undefined, change: TagChange): string[] | undefined {
  if (change.set && change.set.length > 0) {
    if ((change.add?.length ?? 0) > 0 || (change.remove?.length ?? 0) > 0) {
      throw new ResticError('USAGE', '--set and --add/--remove cannot be given at the same time');
    }
    return change.set.length === 1 && change.set[0] === '' ? [] : [...change.set];
  }
  const out = [...(tags ?? [])];
  let changed = false;
  for (const t of change.add ?? []) {
    if (!out.includes(t)) {
      out.push(t);
      changed = true;
    }
  }
  // restic removes the first occurrence only, moving the last tag into its place
  for (const t of change.remove ?? []) {
    const i = out.indexOf(t);
    if (i < 0) continue;
    out[i] = out[out.length - 1];
    out.pop();
    changed = true;
  }
  return changed ? out : undefined;
}

/**
 * Rewrites each snapshot whose tags change: the new file is stored before the old one is
 * deleted, so a crash leaves two snapshots at worst, never none. The caller holds an
 * exclusive lock. An empty change is refused unless `allowNoop` (restic's CLI accepts
 * `--set ""`, which flattens to nothing and modifies no snapshot).
 */
export async function tagSnapshots(
  repo: Repository,
  snapshots: readonly SnapshotEntry[],
  change: TagChange,
  options: { allowNoop?: boolean } = {},
): Promise<TagResult> {
  const nothing = (change.add?.length ?? 0) === 0 && (change.remove?.length ?? 0) === 0 && (change.set?.length ?? 0) === 0;
  if (nothing && !options.allowNoop) throw new ResticError('USAGE', 'nothing to do!');
  const result: TagResult = { modified: [] };
  for (const { id, snapshot } of snapshots) {
    const tags = applyTagChange(snapshot.tags, change);
    if (tags === undefined) continue;
    const updated: Snapshot = { ...snapshot, tags, original: snapshot.original ?? id };
    delete updated.id;
    const newId = await repo.saveUnpacked('snapshot', encodeSnapshotBytes(updated));
    // Verify before deleting: the new file reads back intact (hash, MAC) before the old goes.
    await readBack(repo, newId);
    if (newId !== id) await repo.backend.remove('snapshot', id);
    result.modified.push({ oldId: id, newId });
  }
  return result;
}

/** Loads a just-written snapshot file; an error names it and says the old one was kept. */
export async function readBack(repo: Repository, id: Id): Promise<void> {
  try {
    await repo.loadUnpacked('snapshot', id);
  } catch (err) {
    const file = relativePath('snapshot', id);
    throw new ResticError(isResticError(err) ? err.code : 'FATAL', `new snapshot ${file} does not read back: ${(err as Error).message}; the old snapshot was kept`, { file, cause: err });
  }
}

export const snapshotFile = (id: Id): string => relativePath('snapshot', id);
