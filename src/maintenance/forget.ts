/**
 * `forget`: decide per snapshot group which snapshots the policy keeps, then delete the
 * snapshot files of the others (only the snapshot files: freeing the data is prune's job).
 *
 * As restic: snapshots are selected with the host/tag/path filter, grouped (default by host
 * and paths), and the policy (forget-policy.ts) runs per group. Explicit snapshot IDs bypass
 * grouping and policy: those snapshots are removed. An empty policy removes nothing.
 * Everything is decided before the first file is deleted. The caller holds an exclusive lock.
 *
 * Which restic: by default the decisions of restic 0.14 (Debian's, which CI runs against):
 * the group's oldest snapshot gets no special treatment. One exception, on purpose: restic 0.14
 * had no "unlimited", and a count of -1 there keeps nothing — `forget -l -1` deletes the whole
 * group. restic ≥ 0.16 (and the restic-ts issue) define -1 as unlimited, so when any count is -1
 * restic-ts applies restic ≥ 0.16's rules (which only ever keep more). `compat: 'master'`
 * always gives restic ≥ 0.16's rules, `compat: '0.14'` always 0.14's (even for -1).
 */
import { ResticError, isResticError } from '../errors.js';
import { GoTime } from '../format/gotime.js';
import type { Id } from '../format/id.js';
import type { Snapshot } from '../format/snapshot.js';
import { groupSnapshots, matchesFilter, parseGroupBy, type GroupBy, type SnapshotFilter, type SnapshotGroupKey } from '../format/snapshot-filter.js';
import type { Repository } from '../repository/repository.js';
import { applyPolicy, policyIsEmpty, type ExpirePolicy, type KeepReason } from './forget-policy.js';

/** A snapshot together with its ID (the JSON output and the tables need both). */
export type IdentifiedSnapshot = Snapshot & { id: Id };

export interface ForgetOptions {
  policy: ExpirePolicy;
  filter?: SnapshotFilter;
  /** Default: host and paths (restic's `--group-by host,paths`). */
  groupBy?: GroupBy;
  /** Explicit snapshot IDs or prefixes (or `latest`): removed without applying the policy. */
  ids?: readonly string[];
  /** Decide and report, delete nothing. */
  dryRun?: boolean;
  /** Default: `0.14`, or `master` when a count is -1; see the module comment. */
  compat?: 'master' | '0.14';
  /** Go's Local zone for keep-within cuts (see ApplyPolicyOptions.timeZone). */
  timeZone?: string;
  /** "Now" for snapshots in the future (default: the current time). */
  now?: GoTime;
  /** Called once per snapshot file deleted. */
  onDeleted?: (id: Id) => void;
}

export interface ForgetGroupResult {
  key: SnapshotGroupKey;
  keyJson: string;
  /** Newest first, as restic's ApplyPolicy returns them. */
  keep: IdentifiedSnapshot[];
  remove: IdentifiedSnapshot[];
  /** One per kept snapshot, in the order of `keep`. */
  reasons: KeepReason<IdentifiedSnapshot>[];
}

export interface ForgetResult {
  /** True when snapshot IDs were given (no groups, no policy). */
  explicit: boolean;
  /** True when no keep rule was given: nothing is removed (restic: "no policy was specified"). */
  policyEmpty: boolean;
  /** Groups sorted by their key (restic prints them in Go map order, i.e. randomly). */
  groups: ForgetGroupResult[];
  /** Snapshot IDs removed (or that would be, with dryRun), sorted. */
  remove: Id[];
  /** Snapshot IDs actually deleted (empty with dryRun). */
  deleted: Id[];
  /** Explicit arguments that matched no snapshot (restic warns `Ignoring "x": …`). */
  unresolved: { arg: string; error: ResticError }[];
}

export const DEFAULT_GROUP_BY: GroupBy = parseGroupBy('host,paths');

export async function forget(repo: Repository, options: ForgetOptions): Promise<ForgetResult> {
  const filter = options.filter ?? {};
  const policy = options.policy;
  const result: ForgetResult = {
    explicit: (options.ids?.length ?? 0) > 0,
    policyEmpty: policyIsEmpty(options.policy),
    groups: [],
    remove: [],
    deleted: [],
    unresolved: [],
  };
  const removeIds = new Set<Id>();

  if (result.explicit) {
    for (const arg of options.ids ?? []) {
      try {
        const id = arg === 'latest' ? (await repo.findLatestSnapshot(filter)).id : await repo.findSnapshotId(arg);
        removeIds.add(id);
      } catch (err) {
        if (isResticError(err, 'SNAPSHOT_NOT_FOUND') || isResticError(err, 'SNAPSHOT_AMBIGUOUS')) {
          result.unresolved.push({ arg, error: err });
          continue;
        }
        throw err;
      }
    }
  } else if (!result.policyEmpty) {
    const selected: IdentifiedSnapshot[] = (await repo.listSnapshots())
      .filter((e) => matchesFilter(e.snapshot, filter))
      .map((e) => ({ ...e.snapshot, id: e.id }));
    const grouped = groupSnapshots(selected, options.groupBy ?? DEFAULT_GROUP_BY);
    grouped.groups.sort((a, b) => (a.keyJson < b.keyJson ? -1 : a.keyJson > b.keyJson ? 1 : 0));
    const unlimited = [policy.last, policy.hourly, policy.daily, policy.weekly, policy.monthly, policy.yearly].includes(-1);
    const policyOptions = { compat: options.compat ?? (unlimited ? 'master' : '0.14'), ...(options.timeZone !== undefined ? { timeZone: options.timeZone } : {}) };
    for (const group of grouped.groups) {
      const decided = applyPolicy(group.snapshots, options.policy, options.now ?? GoTime.now(), policyOptions);
      result.groups.push({ key: group.key, keyJson: group.keyJson, keep: decided.keep, remove: decided.remove, reasons: decided.reasons });
      for (const sn of decided.remove) removeIds.add(sn.id);
    }
  }

  result.remove = [...removeIds].sort();
  if (!options.dryRun) result.deleted = await removeSnapshots(repo, result.remove, options.onDeleted);
  return result;
}

/**
 * Deletes snapshot files (full IDs), stopping at the first failure (restic's
 * DeleteFilesChecked). Returns the IDs deleted.
 */
export async function removeSnapshots(repo: Repository, ids: readonly Id[], onDeleted?: (id: Id) => void): Promise<Id[]> {
  const deleted: Id[] = [];
  for (const id of ids) {
    try {
      await repo.backend.remove('snapshot', id);
    } catch (err) {
      throw new ResticError(isResticError(err) ? err.code : 'FATAL', `unable to remove snapshots/${id}: ${(err as Error).message}`, {
        file: `snapshots/${id}`,
        cause: err,
      });
    }
    deleted.push(id);
    onDeleted?.(id);
  }
  return deleted;
}
