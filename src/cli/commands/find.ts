/**
 * `find [--ignore-case] [--long] [--oldest T] [--newest T] [--snapshot ID…] PATTERN…`: nodes
 * matching restic's patterns, as restic 0.14 prints them — per snapshot a "Found matching
 * entries in snapshot …" line and the paths, or with `--json` one array of
 * `{"matches":[…],"hits":N,"snapshot":ID}` objects. Snapshots are searched oldest first
 * (restic's order is that of parallel loading, i.e. unspecified).
 */
import { ResticError } from '../../errors.js';
import { GoTime } from '../../format/gotime.js';
import { shortId } from '../../format/id.js';
import { goJsonNumber, goJsonString } from '../../format/json.js';
import { goFileModeString, type TreeNode } from '../../format/node.js';
import { findInSnapshot } from '../../restorer/find.js';
import { globToRegExp, parsePattern } from '../../restorer/filter.js';
import type { Command, CommandContext } from '../command.js';
import { formatLocalTime } from '../output.js';
import { formatNodeLong, RESTIC_014_JSON } from './ls.js';
import { SNAPSHOT_FILTER_FLAGS } from './snapshots.js';
import { selectSnapshots } from './snapshots.js';

/** restic 0.14's find JSON for a node: path and permissions, then Node's fields minus name/inode/xattrs/device/content/subtree. */
export function findNodeJson(path: Uint8Array, node: TreeNode): string {
  let s = `{"path":${goJsonString(path, RESTIC_014_JSON)},"permissions":${goJsonString(goFileModeString(node.mode), RESTIC_014_JSON)},"type":${goJsonString(node.type, RESTIC_014_JSON)}`;
  if (node.mode !== 0) s += `,"mode":${node.mode >>> 0}`;
  s += `,"mtime":"${node.mtime.toString()}","atime":"${node.atime.toString()}","ctime":"${node.ctime.toString()}","uid":${node.uid},"gid":${node.gid}`;
  if (node.user !== '') s += `,"user":${goJsonString(node.user, RESTIC_014_JSON)}`;
  if (node.group !== '') s += `,"group":${goJsonString(node.group, RESTIC_014_JSON)}`;
  if (node.deviceId !== 0n) s += `,"device_id":${goJsonNumber(node.deviceId)}`;
  if (node.size !== 0n) s += `,"size":${goJsonNumber(node.size)}`;
  if (node.links !== 0n) s += `,"links":${goJsonNumber(node.links)}`;
  if (node.linkTarget.length > 0) s += `,"linktarget":${goJsonString(node.linkTarget, RESTIC_014_JSON)}`;
  if (node.error !== '') s += `,"error":${goJsonString(node.error, RESTIC_014_JSON)}`;
  return s + '}';
}

const TIME_FORMATS: RegExp[] = [
  /^(\d{4})-(\d{2})-(\d{2})(?: (\d{2}):(\d{2})(?::(\d{2}))?)?$/,
  /^(\d{2})\.(\d{2})\.(\d{4})(?: (\d{2}):(\d{2})(?::(\d{2}))?)?$/,
];

/** restic's find time formats (local time): `2006-01-02[ 15:04[:05]]`, `02.01.2006[ 15:04[:05]]`. */
export function parseFindTime(text: string): GoTime {
  for (const [i, re] of TIME_FORMATS.entries()) {
    const m = re.exec(text);
    if (!m) continue;
    const [y, mo, d] = i === 0 ? [m[1], m[2], m[3]] : [m[3], m[2], m[1]];
    const date = new Date(Number(y), Number(mo) - 1, Number(d), Number(m[4] ?? 0), Number(m[5] ?? 0), Number(m[6] ?? 0));
    return GoTime.fromDate(date);
  }
  throw new ResticError('USAGE', `unable to parse time: ${JSON.stringify(text)}`);
}

async function run(ctx: CommandContext): Promise<void> {
  const patterns = ctx.positionals;
  if (patterns.length === 0) throw new ResticError('USAGE', 'wrong number of arguments');
  for (const p of patterns) for (const part of parsePattern(p).parts) if (!part.simple && part.glob !== '') globToRegExp(part.glob, p);
  const oldestText = ctx.flags.string('oldest');
  const newestText = ctx.flags.string('newest');
  const options = {
    ignoreCase: ctx.flags.boolean('ignore-case'),
    oldest: oldestText ? parseFindTime(oldestText) : undefined,
    newest: newestText ? parseFindTime(newestText) : undefined,
  };
  const long = ctx.flags.boolean('long');
  const repo = await ctx.openRepository({ lock: 'shared' });
  await repo.loadIndex();
  const snapshots = (await selectSnapshots(ctx, ctx.flags.strings('snapshot'))).sort((a, b) => a.snapshot.time.compare(b.snapshot.time));

  const json = ctx.global.json;
  const groups: string[] = [];
  let printedSnapshot = false;
  for (const entry of snapshots) {
    const matches: string[] = [];
    for await (const m of findInSnapshot(repo, entry, patterns, options)) {
      if (json) {
        matches.push(findNodeJson(m.path, m.node));
        continue;
      }
      if (matches.length === 0) {
        if (printedSnapshot) ctx.out.info('');
        printedSnapshot = true;
        ctx.out.info(`Found matching entries in snapshot ${shortId(entry.id)} from ${formatLocalTime(entry.snapshot.time)}`);
      }
      matches.push('');
      ctx.out.raw(Buffer.concat([long ? formatNodeLong(m.path, m.node) : Buffer.from(m.path), Buffer.from('\n')]));
    }
    if (json && matches.length > 0) groups.push(`{"matches":[${matches.join(',')}],"hits":${matches.length},"snapshot":"${entry.id}"}`);
  }
  if (json) ctx.out.jsonLine(`[${groups.join(',')}]`);
}

export const findNodesCommand: Command = {
  name: 'find',
  summary: 'Find a file, a directory or restic IDs',
  usage: 'find [flags] PATTERN...',
  flags: [
    { name: 'oldest', short: 'O', kind: 'string', valueName: 'string', description: 'oldest modification date/time' },
    { name: 'newest', short: 'N', kind: 'string', valueName: 'string', description: 'newest modification date/time' },
    { name: 'snapshot', short: 's', kind: 'strings', valueName: 'id', description: 'snapshot id to search in (can be given multiple times)' },
    { name: 'ignore-case', short: 'i', kind: 'boolean', description: 'ignore case for pattern' },
    { name: 'long', short: 'l', kind: 'boolean', description: 'use a long listing format showing size and mode' },
    ...SNAPSHOT_FILTER_FLAGS,
  ],
  run,
};
