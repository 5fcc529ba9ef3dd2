/**
 * `snapshots [--host H] [--tag T] [--path P] [--latest N] [--group-by …] [--compact] [ID…]`:
 * the snapshot list as restic 0.14 prints it — a table (oldest first, blank lines between
 * rows when one spans several paths, "N snapshots" footer), or with `--json` the snapshot
 * objects followed by `id` and `short_id`, grouped into `{group_key, snapshots}` objects
 * when `--group-by` is given. restic orders groups randomly (a Go map); we sort them by key.
 */
import { ResticError, isResticError } from '../../errors.js';
import { shortId } from '../../format/id.js';
import type { Snapshot } from '../../format/snapshot.js';
import {
  groupHeader,
  groupSnapshots,
  isEmptyFilter,
  latestPerHostAndPaths,
  matchesFilter,
  normalizeFilterPaths,
  parseGroupBy,
  parseTagListFlags,
  snapshotsToCliJson,
  sortOldestFirst,
  type SnapshotFilter,
} from '../../format/snapshot-filter.js';
import type { Repository, SnapshotEntry } from '../../repository/repository.js';
import type { FlagSpec, ParsedFlags } from '../args.js';
import type { Command, CommandContext } from '../command.js';
import { formatLocalTime, renderTable, type TableColumn } from '../output.js';

/** `--host`, `--tag`, `--path`, shared with other commands that select snapshots. */
export const SNAPSHOT_FILTER_FLAGS: FlagSpec[] = [
  { name: 'host', short: 'H', kind: 'strings', valueName: 'host', description: 'only consider snapshots for this host (can be specified multiple times)' },
  { name: 'tag', kind: 'strings', valueName: 'taglist', description: 'only consider snapshots which include this taglist in the format `tag[,tag,...]` (can be specified multiple times)' },
  { name: 'path', kind: 'strings', valueName: 'path', description: 'only consider snapshots for this path (can be specified multiple times)' },
];

/** The filter from `--host/--tag/--path`. Paths are compared as given (restic 0.14's `snapshots`). */
export function snapshotFilterFromFlags(flags: ParsedFlags): SnapshotFilter {
  return { hosts: flags.strings('host'), tags: parseTagListFlags(flags.strings('tag')), paths: flags.strings('path') };
}

/** The filter for resolving `latest`: paths made absolute and cleaned, as restic does there. */
export function latestFilter(filter: SnapshotFilter, cwd: string): SnapshotFilter {
  return { ...filter, paths: normalizeFilterPaths(filter.paths ?? [], cwd) };
}

/**
 * restic's FindFilteredSnapshots for explicit arguments: each ID prefix (or `latest`, found
 * with `latestFilter`) resolved to a full ID, in order and without repeats; one that does not
 * resolve (not found, ambiguous) is warned about and skipped. Warns that the filter is ignored
 * when one is given but no `latest` used it.
 */
export async function resolveSnapshotArguments(
  ctx: CommandContext,
  repo: Repository,
  args: readonly string[],
  filter: SnapshotFilter,
): Promise<string[]> {
  const ids: string[] = [];
  let usedFilter = false;
  for (const arg of args) {
    try {
      if (arg === 'latest') {
        usedFilter = true;
        ids.push((await repo.findLatestSnapshot(latestFilter(filter, ctx.cwd))).id);
      } else {
        ids.push(await repo.findSnapshotId(arg));
      }
    } catch (err) {
      if (!isResticError(err) || (err.code !== 'SNAPSHOT_NOT_FOUND' && err.code !== 'SNAPSHOT_AMBIGUOUS')) throw err;
      ctx.out.warn(`Ignoring ${JSON.stringify(arg)}: ${err.message}`);
    }
  }
  if (!usedFilter && !isEmptyFilter(filter)) ctx.out.warn('Ignoring filters as there are explicit snapshot ids given');
  return [...new Set(ids)];
}

/**
 * restic's FindFilteredSnapshots: explicit IDs (and `latest`) resolved one by one, with a
 * warning for those that do not resolve; without arguments every snapshot the filter keeps.
 */
export async function selectSnapshots(ctx: CommandContext, args: readonly string[]): Promise<SnapshotEntry[]> {
  const repo = await ctx.openRepository();
  const filter = snapshotFilterFromFlags(ctx.flags);
  if (args.length === 0) return (await repo.listSnapshots()).filter((e) => matchesFilter(e.snapshot, filter));
  const entries: SnapshotEntry[] = [];
  for (const id of await resolveSnapshotArguments(ctx, repo, args, filter)) entries.push(await repo.loadSnapshot(id));
  return entries;
}

type Row = Snapshot & { id: string };

function printTable(ctx: CommandContext, list: Row[], compact: boolean): void {
  const multiline = !compact && list.some((sn) => (sn.paths ?? []).length > 1);
  const columns: TableColumn<Row>[] = [
    { header: 'ID', cell: (sn) => shortId(sn.id) },
    { header: 'Time', cell: (sn) => formatLocalTime(sn.time) },
  ];
  if (compact) {
    columns.push({ header: 'Host', cell: (sn) => sn.hostname ?? '' }, { header: 'Tags  ', cell: (sn) => (sn.tags ?? []).join('\n') });
  } else {
    columns.push(
      { header: 'Host      ', cell: (sn) => sn.hostname ?? '' },
      { header: 'Tags      ', cell: (sn) => (sn.tags ?? []).join(',') },
      { header: 'Paths', cell: (sn) => (sn.paths ?? []).join('\n') },
    );
  }
  ctx.out.stdout.write(renderTable(columns, list, { footer: [`${list.length} snapshots`], blankLineBetweenRows: multiline }));
}

/** restic's FindFilteredSnapshots for explicit arguments: warn about and skip what does not resolve. */
async function selectByArguments(ctx: CommandContext, filter: SnapshotFilter): Promise<Row[]> {
  const repo = await ctx.openRepository();
  const rows: Row[] = [];
  for (const id of await resolveSnapshotArguments(ctx, repo, ctx.positionals, filter)) rows.push({ ...(await repo.loadSnapshot(id)).snapshot, id });
  return rows;
}

async function run(ctx: CommandContext): Promise<void> {
  const filter = snapshotFilterFromFlags(ctx.flags);
  const latest = ctx.flags.int('latest') ?? 0;
  const groupBy = parseGroupBy(ctx.flags.string('group-by') ?? ''); // USAGE before touching the repository
  const compact = ctx.flags.boolean('compact');

  const repo = await ctx.openRepository({ lock: 'shared' });
  // Like restic, list what can be read and warn about the rest; unlike restic, still fail at
  // the end (with the first damaged file's error) so scripts notice.
  const damaged: ResticError[] = [];
  const onDamaged = (_id: string, err: ResticError): void => {
    damaged.push(err);
    ctx.out.warn(`could not load snapshot: ${err.message}`);
  };
  const selected: Row[] =
    ctx.positionals.length > 0
      ? await selectByArguments(ctx, filter)
      : (await repo.listSnapshots({ onDamaged })).filter((e) => matchesFilter(e.snapshot, filter)).map((e) => ({ ...e.snapshot, id: e.id }));

  const result = groupSnapshots(selected, groupBy);
  result.groups.sort((a, b) => (a.keyJson < b.keyJson ? -1 : a.keyJson > b.keyJson ? 1 : 0));
  for (const group of result.groups) {
    group.snapshots = sortOldestFirst(latest > 0 ? latestPerHostAndPaths(group.snapshots, latest) : group.snapshots);
  }

  if (ctx.global.json) {
    ctx.out.stdout.write(snapshotsToCliJson(result));
  } else {
    for (const group of result.groups) {
      if (result.grouped) {
        const header = groupHeader(group.key);
        if (header !== '') ctx.out.print(header);
      }
      printTable(ctx, group.snapshots, compact);
    }
  }
  if (damaged.length > 0) {
    const first = damaged[0];
    const more = damaged.length > 1 ? ` (and ${damaged.length - 1} more damaged snapshot files)` : '';
    throw new ResticError(first.code, `${first.message}${more}`, { file: first.file, cause: first });
  }
}

export const snapshotsCommand: Command = {
  name: 'snapshots',
  summary: 'List all snapshots',
  usage: 'snapshots [flags] [snapshotID ...]',
  flags: [
    ...SNAPSHOT_FILTER_FLAGS,
    { name: 'compact', short: 'c', kind: 'boolean', description: 'use compact output format' },
    { name: 'latest', kind: 'int', valueName: 'n', description: 'only show the last n snapshots for each host and path' },
    { name: 'group-by', short: 'g', kind: 'string', valueName: 'group', description: 'group snapshots by host, paths and/or tags, separated by comma' },
  ],
  run,
};
