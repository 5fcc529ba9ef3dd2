/**
 * Selecting and grouping snapshots as restic does (`--host`, `--tag`, `--path`, `--group-by`,
 * `--latest`), and the JSON `restic snapshots --json [--group-by …]` prints.
 */
import { posix as posixPath } from 'node:path';
import { ResticError } from '../errors.js';
import { GoJsonObject } from './json.js';
import { snapshotToCliJson, sortedGoStrings, type Snapshot } from './snapshot.js';

export interface SnapshotFilter {
  /** Any of these hostnames (empty/absent: any host). */
  hosts?: string[];
  /**
   * Tag lists: a snapshot matches when it has every tag of at least one list. An empty tag
   * (`--tag ''`) matches a snapshot without tags. Empty/absent: any tags.
   */
  tags?: string[][];
  /** The snapshot must contain every one of these paths (compare normalised; see normalizeFilterPaths). */
  paths?: string[];
}

/** restic's HasTags, including its order-dependent handling of the empty tag. */
function hasTags(sn: Snapshot, list: readonly string[]): boolean {
  const tags = sn.tags ?? [];
  for (const tag of list) {
    if (tag === '' && tags.length === 0) return true;
    if (!tags.includes(tag)) return false;
  }
  return true;
}

export function matchesHosts(sn: Snapshot, hosts: readonly string[] | undefined): boolean {
  return !hosts || hosts.length === 0 || hosts.includes(sn.hostname ?? '');
}

export function matchesTagLists(sn: Snapshot, tagLists: readonly (readonly string[])[] | undefined): boolean {
  return !tagLists || tagLists.length === 0 || tagLists.some((list) => hasTags(sn, list));
}

export function matchesPaths(sn: Snapshot, paths: readonly string[] | undefined): boolean {
  if (!paths || paths.length === 0) return true;
  const have = new Set(sn.paths ?? []);
  return paths.every((p) => have.has(p));
}

/** restic's SnapshotFilter.matches: hosts AND tag lists AND paths. */
export function matchesFilter(sn: Snapshot, filter: SnapshotFilter = {}): boolean {
  return matchesHosts(sn, filter.hosts) && matchesTagLists(sn, filter.tags) && matchesPaths(sn, filter.paths);
}

export function isEmptyFilter(filter: SnapshotFilter): boolean {
  return (filter.hosts?.length ?? 0) + (filter.tags?.length ?? 0) + (filter.paths?.length ?? 0) === 0;
}

/**
 * `--tag` flag values to tag lists: each flag is one list, commas inside it mean AND, and
 * whitespace around each tag is trimmed (restic's TagList.Set).
 */
export function parseTagListFlags(values: readonly string[]): string[][] {
  return values.map((v) => v.split(',').map((t) => t.trim()));
}

/**
 * Filter paths made absolute and cleaned (Go filepath.Abs + Clean), as restic does before
 * resolving `latest` (and, since 0.15, for every filter). restic 0.14's plain `snapshots
 * --path` compared the strings as given.
 */
export function normalizeFilterPaths(paths: readonly string[], cwd: string = process.cwd()): string[] {
  return paths.map((p) => posixPath.resolve(cwd, p));
}

// ---------------------------------------------------------------------------------------------
// Grouping

export interface GroupBy {
  host: boolean;
  paths: boolean;
  tags: boolean;
}

export const NO_GROUPING: GroupBy = { host: false, paths: false, tags: false };

/** `--group-by` value: comma-separated `host`/`hosts`, `path`/`paths`, `tag`/`tags`; '' = none. */
export function parseGroupBy(value: string): GroupBy {
  const g: GroupBy = { host: false, paths: false, tags: false };
  for (const option of value.split(',')) {
    switch (option) {
      case 'host':
      case 'hosts':
        g.host = true;
        break;
      case 'path':
      case 'paths':
        g.paths = true;
        break;
      case 'tag':
      case 'tags':
        g.tags = true;
        break;
      case '':
        break;
      default:
        throw new ResticError('USAGE', `unknown grouping option: '${option}'`);
    }
  }
  return g;
}

export function isGrouped(groupBy: GroupBy): boolean {
  return groupBy.host || groupBy.paths || groupBy.tags;
}

/** restic's SnapshotGroupKey: only the enabled criteria are filled; lists sorted; nil → null. */
export interface SnapshotGroupKey {
  hostname: string;
  paths: string[] | null;
  tags: string[] | null;
}

export function groupKey(sn: Snapshot, groupBy: GroupBy): SnapshotGroupKey {
  return {
    hostname: groupBy.host ? (sn.hostname ?? '') : '',
    paths: groupBy.paths && sn.paths ? sortedGoStrings(sn.paths) : null,
    tags: groupBy.tags && sn.tags ? sortedGoStrings(sn.tags) : null,
  };
}

/** The key as restic's json.Marshal writes it; groups are identified by this string. */
export function groupKeyJson(key: SnapshotGroupKey): string {
  return new GoJsonObject().string('hostname', key.hostname).strings('paths', key.paths).strings('tags', key.tags).toString();
}

export interface SnapshotGroup<T extends Snapshot = Snapshot> {
  key: SnapshotGroupKey;
  /** groupKeyJson(key) */
  keyJson: string;
  snapshots: T[];
}

export interface GroupedSnapshots<T extends Snapshot = Snapshot> {
  /** False when no criterion was enabled: a single group holds everything. */
  grouped: boolean;
  groups: SnapshotGroup<T>[];
}

/**
 * restic's GroupSnapshots. Snapshots keep their input order inside a group; groups come in
 * order of first appearance (restic's own order is Go map order, i.e. random). Like restic,
 * the snapshots come out with `paths` sorted (always) and `tags` sorted (when grouping by
 * tags) — as copies; the input objects are not modified.
 */
export function groupSnapshots<T extends Snapshot>(list: readonly T[], groupBy: GroupBy): GroupedSnapshots<T> {
  const groups = new Map<string, SnapshotGroup<T>>();
  for (const sn of list) {
    const key = groupKey(sn, groupBy);
    const keyJson = groupKeyJson(key);
    const copy: T = { ...sn };
    if (sn.paths) copy.paths = sortedGoStrings(sn.paths);
    if (groupBy.tags && sn.tags) copy.tags = sortedGoStrings(sn.tags);
    let group = groups.get(keyJson);
    if (!group) {
      group = { key, keyJson, snapshots: [] };
      groups.set(keyJson, group);
    }
    group.snapshots.push(copy);
  }
  return { grouped: isGrouped(groupBy), groups: [...groups.values()] };
}

/** Oldest first, ties in input order (how `restic snapshots` orders each group). */
export function sortOldestFirst<T extends Snapshot>(list: readonly T[]): T[] {
  return [...list].sort((a, b) => a.time.compare(b.time));
}

/** Newest first, ties in input order. */
export function sortNewestFirst<T extends Snapshot>(list: readonly T[]): T[] {
  return [...list].sort((a, b) => b.time.compare(a.time));
}

/**
 * `snapshots --latest N`: the N newest snapshots per (hostname, sorted paths), newest first
 * (restic's FilterLastestSnapshots).
 */
export function latestPerHostAndPaths<T extends Snapshot>(list: readonly T[], n: number): T[] {
  const seen = new Map<string, number>();
  const out: T[] = [];
  for (const sn of sortNewestFirst(list)) {
    const key = JSON.stringify([sn.hostname ?? '', sortedGoStrings(sn.paths ?? []).join('|')]);
    const count = seen.get(key) ?? 0;
    if (count < n) {
      seen.set(key, count + 1);
      out.push(sn);
    }
  }
  return out;
}

/**
 * The whole stdout of `restic snapshots --json` for already grouped, filtered and ordered
 * snapshots (each needs its `id`): a flat array when not grouped, else
 * `[{"group_key":{…},"snapshots":[…]}]`. Ends with a newline like Go's json.Encoder.
 */
export function snapshotsToCliJson<T extends Snapshot>(result: GroupedSnapshots<T>): string {
  if (!result.grouped) {
    const all = result.groups.flatMap((g) => g.snapshots.map((sn) => snapshotToCliJson(sn)));
    return '[' + all.join(',') + ']\n';
  }
  const groups = result.groups.map(
    (g) =>
      '{"group_key":' +
      groupKeyJson(g.key) +
      ',"snapshots":' +
      // Go marshals a nil []Snapshot as null; a group always has at least one snapshot here.
      (g.snapshots.length === 0 ? 'null' : '[' + g.snapshots.map((sn) => snapshotToCliJson(sn)).join(',') + ']') +
      '}',
  );
  return '[' + groups.join(',') + ']\n';
}

/** The header line restic prints above a group in the table output (empty when not grouped). */
export function groupHeader(key: SnapshotGroupKey): string {
  if (key.hostname === '' && key.tags === null && key.paths === null) return '';
  const info: string[] = [];
  if (key.hostname !== '') info.push(`host [${key.hostname}]`);
  if (key.tags !== null) info.push(`tags [${key.tags.join(', ')}]`);
  if (key.paths !== null) info.push(`paths [${key.paths.join(', ')}]`);
  return `snapshots for (${info.join(', ')}):`;
}
