/**
 * `forget [policy flags] [filters] [--group-by G] [--dry-run] [--prune [prune flags]] [ID…]`:
 * restic 0.14's forget — same decisions, same text ("Applying Policy: …", keep/remove tables
 * with a Reasons column) and the same `--json` (an array of groups with keep, remove and
 * reasons, the reasons carrying restic 0.14's counters). Groups are printed sorted by key;
 * restic prints them in random (Go map) order.
 */
import { ResticError } from '../../errors.js';
import { shortId } from '../../format/id.js';
import { GoJsonObject } from '../../format/json.js';
import { encodeSnapshot, snapshotToCliJson } from '../../format/snapshot.js';
import { groupHeader, parseGroupBy, parseTagListFlags, sortOldestFirst, type SnapshotFilter } from '../../format/snapshot-filter.js';
import { parseDuration } from '../../maintenance/duration.js';
import { forget, removeSnapshots, type ForgetGroupResult, type IdentifiedSnapshot } from '../../maintenance/forget.js';
import { countersJson, policyIsEmpty, policyToString, type ExpirePolicy, type KeepReason } from '../../maintenance/forget-policy.js';
import type { FlagSpec } from '../args.js';
import type { Command, CommandContext } from '../command.js';
import { formatLocalTime, renderTable, type TableColumn } from '../output.js';
import { formatIdSet, PRUNE_FLAGS, pruneOptionsFromFlags, runPruneWithRepo } from './prune.js';

const COUNT_FLAGS = [
  ['keep-last', 'l', 'last', 'keep the last n snapshots'],
  ['keep-hourly', 'H', 'hourly', 'keep the last n hourly snapshots'],
  ['keep-daily', 'd', 'daily', 'keep the last n daily snapshots'],
  ['keep-weekly', 'w', 'weekly', 'keep the last n weekly snapshots'],
  ['keep-monthly', 'm', 'monthly', 'keep the last n monthly snapshots'],
  ['keep-yearly', 'y', 'yearly', 'keep the last n yearly snapshots'],
] as const;

const WITHIN_FLAGS = [
  ['keep-within', 'within', 'keep snapshots that are newer than duration (eg. 1y5m7d2h) relative to the latest snapshot'],
  ['keep-within-hourly', 'withinHourly', 'keep hourly snapshots that are newer than duration (eg. 1y5m7d2h) relative to the latest snapshot'],
  ['keep-within-daily', 'withinDaily', 'keep daily snapshots that are newer than duration (eg. 1y5m7d2h) relative to the latest snapshot'],
  ['keep-within-weekly', 'withinWeekly', 'keep weekly snapshots that are newer than duration (eg. 1y5m7d2h) relative to the latest snapshot'],
  ['keep-within-monthly', 'withinMonthly', 'keep monthly snapshots that are newer than duration (eg. 1y5m7d2h) relative to the latest snapshot'],
  ['keep-within-yearly', 'withinYearly', 'keep yearly snapshots that are newer than duration (eg. 1y5m7d2h) relative to the latest snapshot'],
] as const;

const FORGET_FLAGS: FlagSpec[] = [
  ...COUNT_FLAGS.map(([name, short, , description]): FlagSpec => ({ name, short, kind: 'int', valueName: 'n', description })),
  ...WITHIN_FLAGS.map(([name, , description]): FlagSpec => ({ name, kind: 'string', valueName: 'duration', description })),
  { name: 'keep-tag', kind: 'strings', valueName: 'taglist', description: 'keep snapshots with this taglist (can be specified multiple times)' },
  { name: 'host', kind: 'strings', valueName: 'host', description: 'only consider snapshots with the given host (can be specified multiple times)' },
  { name: 'hostname', kind: 'strings', valueName: 'hostname', description: 'only consider snapshots with the given hostname (can be specified multiple times)', hidden: true },
  { name: 'tag', kind: 'strings', valueName: 'taglist', description: 'only consider snapshots which include this taglist in the format `tag[,tag,...]` (can be specified multiple times)' },
  { name: 'path', kind: 'strings', valueName: 'path', description: 'only consider snapshots which include this (absolute) path (can be specified multiple times)' },
  { name: 'compact', short: 'c', kind: 'boolean', description: 'use compact output format' },
  { name: 'group-by', short: 'g', kind: 'string', valueName: 'group', description: "group snapshots by host, paths and/or tags, separated by comma (disable grouping with '') (default \"host,paths\")" },
  { name: 'dry-run', short: 'n', kind: 'boolean', description: 'do not delete anything, just print what would be done' },
  { name: 'prune', kind: 'boolean', description: "automatically run the 'prune' command if snapshots have been removed" },
  ...PRUNE_FLAGS,
];

/** The policy from the flags; bad numbers and durations are USAGE errors (parsed before anything opens). */
export function policyFromFlags(ctx: CommandContext): ExpirePolicy {
  const policy: ExpirePolicy = {};
  for (const [name, , key] of COUNT_FLAGS) {
    const n = ctx.flags.int(name);
    if (n === undefined) continue;
    if (n < -1) throw new ResticError('USAGE', `invalid argument "${n}" for "--${name}" flag: must be a number of snapshots, or -1 for unlimited`);
    policy[key] = n;
  }
  for (const [name, key] of WITHIN_FLAGS) {
    const text = ctx.flags.string(name);
    if (text !== undefined) policy[key] = parseDuration(text, `--${name}`);
  }
  const keepTags = ctx.flags.strings('keep-tag');
  if (keepTags.length > 0) policy.tags = parseTagListFlags(keepTags);
  return policy;
}

function filterFromFlags(ctx: CommandContext): SnapshotFilter {
  return {
    hosts: [...ctx.flags.strings('host'), ...ctx.flags.strings('hostname')],
    tags: parseTagListFlags(ctx.flags.strings('tag')),
    paths: ctx.flags.strings('path'),
  };
}

/** restic 0.14's PrintSnapshots: oldest first, a Reasons column for kept snapshots. */
function snapshotTable(list: IdentifiedSnapshot[], reasons: KeepReason<IdentifiedSnapshot>[] | undefined, compact: boolean): string {
  const matches = new Map<string, string[]>();
  for (const r of reasons ?? []) matches.set(r.snapshot.id, r.matches);
  const rows = sortOldestFirst(list);
  const columns: TableColumn<IdentifiedSnapshot>[] = [
    { header: 'ID', cell: (sn) => shortId(sn.id) },
    { header: 'Time', cell: (sn) => formatLocalTime(sn.time) },
  ];
  if (compact) {
    columns.push({ header: 'Host', cell: (sn) => sn.hostname ?? '' }, { header: 'Tags  ', cell: (sn) => (sn.tags ?? []).join('\n') });
  } else {
    columns.push({ header: 'Host      ', cell: (sn) => sn.hostname ?? '' }, { header: 'Tags      ', cell: (sn) => (sn.tags ?? []).join(',') });
    if (reasons !== undefined && reasons.length > 0) columns.push({ header: 'Reasons', cell: (sn) => (matches.get(sn.id) ?? []).join('\n') });
    columns.push({ header: 'Paths', cell: (sn) => (sn.paths ?? []).join('\n') });
  }
  const multiline = !compact && rows.some((sn) => (sn.paths ?? []).length > 1);
  return renderTable(columns, rows, { footer: [`${rows.length} snapshots`], blankLineBetweenRows: multiline });
}

/** One group of `forget --json` (restic 0.14's ForgetGroup through json.Encoder). */
export function forgetGroupJson(g: ForgetGroupResult): string {
  const list = (items: IdentifiedSnapshot[]): string => (items.length === 0 ? 'null' : '[' + items.map((sn) => snapshotToCliJson(sn, sn.id)).join(',') + ']');
  const reasons =
    g.reasons.length === 0
      ? 'null'
      : '[' +
        g.reasons
          .map((r) => {
            const counters = new GoJsonObject();
            for (const [k, v] of Object.entries(countersJson(r.counters))) counters.raw(k, String(v));
            const { id: _id, ...snapshot } = r.snapshot;
            return new GoJsonObject().raw('snapshot', encodeSnapshot(snapshot)).strings('matches', r.matches).raw('counters', counters.toString()).toString();
          })
          .join(',') +
        ']';
  return new GoJsonObject()
    .strings('tags', g.key.tags)
    .string('host', g.key.hostname)
    .strings('paths', g.key.paths)
    .raw('keep', list(g.keep))
    .raw('remove', list(g.remove))
    .raw('reasons', reasons)
    .toString();
}

async function run(ctx: CommandContext): Promise<void> {
  // Everything that can be wrong with the flags is found before the repository is opened.
  const policy = policyFromFlags(ctx);
  const filter = filterFromFlags(ctx);
  const groupBy = parseGroupBy(ctx.flags.string('group-by') ?? 'host,paths');
  const pruneOptions = pruneOptionsFromFlags(ctx);
  const dryRun = ctx.flags.boolean('dry-run');
  const compact = ctx.flags.boolean('compact');
  const { out, global } = ctx;
  if (global.noLock && !dryRun) throw new ResticError('USAGE', '--no-lock is only applicable in combination with --dry-run for forget command');

  const repo = await ctx.openRepository({ lock: 'exclusive' });
  const explicit = ctx.positionals.length > 0;
  if (!explicit) {
    if (policyIsEmpty(policy)) out.info('no policy was specified, no snapshots will be removed');
    else out.info(`Applying Policy: ${policyToString(policy)}`);
  }
  const result = await forget(repo, {
    policy,
    filter,
    groupBy,
    ids: ctx.positionals,
    dryRun: true, // decide first; delete below, after printing, as restic does
    ...(ctx.env.TZ !== undefined && ctx.env.TZ !== '' ? { timeZone: ctx.env.TZ } : {}),
  });
  for (const u of result.unresolved) out.warn(`Ignoring ${JSON.stringify(u.arg)}: ${u.error.message}`);

  if (!global.json) {
    for (const g of result.groups) {
      if (global.verbosity >= 1 && !global.quiet) {
        const header = groupHeader(g.key);
        if (header !== '') out.print(header);
      }
      if (global.quiet) continue;
      if (g.keep.length > 0) out.print(`keep ${g.keep.length} snapshots:\n${snapshotTable(g.keep, g.reasons, compact)}\n`);
      if (g.remove.length > 0) out.print(`remove ${g.remove.length} snapshots:\n${snapshotTable(g.remove, undefined, compact)}\n`);
    }
  }

  if (result.remove.length > 0) {
    if (!dryRun) {
      await removeSnapshots(repo, result.remove);
    } else if (!global.json) {
      out.print(`Would have removed the following snapshots:\n${formatIdSet(result.remove)}\n\n`);
    }
  }

  if (global.json && result.groups.length > 0) out.jsonLine('[' + result.groups.map(forgetGroupJson).join(',') + ']');

  if (result.remove.length > 0 && ctx.flags.boolean('prune')) {
    out.info(`${result.remove.length} snapshots have been removed, running prune`);
    await runPruneWithRepo(ctx, repo, { ...pruneOptions, ignoreSnapshots: new Set(result.remove) }, dryRun);
  }
}

export const forgetCommand: Command = {
  name: 'forget',
  summary: 'Remove snapshots from the repository',
  usage: 'forget [flags] [snapshot ID] [...]',
  flags: FORGET_FLAGS,
  help:
    'The "forget" command removes snapshots according to a policy. All snapshots are\n' +
    'first divided into groups according to "--group-by", and after that the policy\n' +
    'specified by the "--keep-*" options is applied to each group individually.\n\n' +
    'Please note that this command really only deletes the snapshot object in the\n' +
    'repository, which is a reference to data stored there. In order to remove the\n' +
    'unreferenced data after "forget" was run successfully, see the "prune" command.',
  run,
};
