/**
 * `ls [--long] [--recursive] SNAPSHOT[:SUBDIR] [DIR...]`: the nodes of a snapshot as restic
 * 0.14 lists them — paths (raw bytes) one per line, `--long` with mode, ids, size, time and
 * symlink target, or with `--json` one snapshot line (struct_type "snapshot") followed by one
 * line per node (struct_type "node") with restic's field names and order.
 *
 * DIR filters (absolute paths) show only what is inside those directories; `--recursive`
 * descends below them. `SNAPSHOT:SUBDIR` (a later restic feature) lists that subtree as root.
 */
import { ResticError } from '../../errors.js';
import { shortId } from '../../format/id.js';
import type { GoTime } from '../../format/gotime.js';
import { goJsonNumber, goJsonString } from '../../format/json.js';
import { GoFileMode, goFileModeString, type TreeNode } from '../../format/node.js';
import { goPathClean } from '../../format/go-path.js';
import { walkTree, type WalkEntry } from '../../restorer/walker.js';
import type { SnapshotEntry } from '../../repository/repository.js';
import type { Command, CommandContext } from '../command.js';
import { formatLocalTime } from '../output.js';
import { snapshotToCliJson, sortedGoStrings } from '../../format/snapshot.js';
import { SNAPSHOT_FILTER_FLAGS, latestFilter, snapshotFilterFromFlags } from './snapshots.js';

/**
 * JSON string options for output that must equal restic 0.14's: that binary is built with Go
 * 1.19, which writes \b and \f as \u0008 and \u000c.
 */
export const RESTIC_014_JSON = { legacyControlEscapes: true } as const;

/** restic's lsNodeJSON line for one node (without the newline). */
export function lsNodeJson(path: Uint8Array, node: TreeNode): string {
  let s = `{"name":${goJsonString(node.name, RESTIC_014_JSON)},"type":${goJsonString(node.type, RESTIC_014_JSON)},"path":${goJsonString(path, RESTIC_014_JSON)},"uid":${node.uid},"gid":${node.gid}`;
  if (node.type === 'file') s += `,"size":${goJsonNumber(node.size)}`;
  if (node.mode !== 0) s += `,"mode":${node.mode >>> 0}`;
  s += `,"permissions":${goJsonString(goFileModeString(node.mode), RESTIC_014_JSON)}`;
  s += `,"mtime":"${node.mtime.toString()}","atime":"${node.atime.toString()}","ctime":"${node.ctime.toString()}","struct_type":"node"}`;
  return s;
}

/** restic's formatNode with long=true, as bytes (the path may be any bytes). */
export function formatNodeLong(path: Uint8Array, node: TreeNode): Buffer {
  let typeBits = 0;
  switch (node.type) {
    case 'dir':
      typeBits = GoFileMode.Dir;
      break;
    case 'symlink':
      typeBits = GoFileMode.Symlink;
      break;
    case 'dev':
      typeBits = GoFileMode.Device;
      break;
    case 'chardev':
      typeBits = GoFileMode.Device | GoFileMode.CharDevice;
      break;
    case 'fifo':
      typeBits = GoFileMode.NamedPipe;
      break;
    case 'socket':
      typeBits = GoFileMode.Socket;
      break;
  }
  const mode = goFileModeString((typeBits | node.mode) >>> 0);
  const head = `${mode} ${String(node.uid).padStart(5)} ${String(node.gid).padStart(5)} ${String(node.size).padStart(6)} ${formatLocalTime(node.mtime)} `;
  const parts: Buffer[] = [Buffer.from(head, 'utf8'), Buffer.from(path)];
  if (node.type === 'symlink') parts.push(Buffer.from(' -> '), Buffer.from(node.linkTarget));
  return Buffer.concat(parts);
}

/** Go's `time.Time.String()` for a time parsed from JSON (zone: UTC for offset 0, else ±hhmm). */
export function goTimeString(t: GoTime): string {
  const w = t.wall();
  const p = (n: number, width = 2): string => String(n).padStart(width, '0');
  let s = `${p(w.year, 4)}-${p(w.month)}-${p(w.day)} ${p(w.hour)}:${p(w.minute)}:${p(w.second)}`;
  if (t.nanos !== 0) s += '.' + String(t.nanos).padStart(9, '0').replace(/0+$/, '');
  const off = t.offsetSeconds;
  if (off === 0) return `${s} +0000 UTC`;
  const sign = off < 0 ? '-' : '+';
  const abs = Math.abs(off);
  const zone = `${sign}${p(Math.floor(abs / 3600))}${p(Math.floor((abs % 3600) / 60))}`;
  return `${s} ${zone} ${zone}`;
}

/** Go's `%v` of a string slice. */
export function goStringList(list: readonly string[] | null | undefined): string {
  return `[${(list ?? []).join(' ')}]`;
}

/** restic's fs.HasPathPrefix(base, p): the components of `base` start `p`. */
export function hasPathPrefix(base: string, p: string): boolean {
  const b = goPathClean(base).split('/').filter(Boolean);
  const q = goPathClean(p).split('/').filter(Boolean);
  if (b.length > q.length) return false;
  return b.every((part, i) => part === q[i]);
}

/**
 * restic 0.14's first `ls --json` line. Unlike `snapshots --json` (which sorts paths while
 * grouping), `ls` prints the paths in their stored order.
 */
export function lsSnapshotJson(entry: SnapshotEntry): string {
  let json = snapshotToCliJson(entry.snapshot, entry.id, RESTIC_014_JSON);
  const paths = entry.snapshot.paths;
  if (paths && paths.length > 1) {
    const list = (l: readonly string[]): string => `"paths":[${l.map((p) => goJsonString(p, RESTIC_014_JSON)).join(',')}]`;
    json = json.replace(list(sortedGoStrings(paths)), list(paths));
  }
  return `${json.slice(0, -1)},"struct_type":"snapshot"}`;
}

async function run(ctx: CommandContext): Promise<void> {
  if (ctx.positionals.length === 0) {
    throw new ResticError('USAGE', "no snapshot ID specified, specify snapshot ID or use special ID 'latest'");
  }
  const dirs = ctx.positionals.slice(1);
  for (const dir of dirs) {
    if (!dir.startsWith('/')) throw new ResticError('USAGE', "All path filters must be absolute, starting with a forward slash '/'");
  }
  const recursive = ctx.flags.boolean('recursive');
  const long = ctx.flags.boolean('long');
  const repo = await ctx.openRepository({ lock: 'none' });
  const found = await repo.findSnapshot(ctx.positionals[0], latestFilter(snapshotFilterFromFlags(ctx.flags), ctx.cwd));
  await repo.loadIndex();

  const within = (p: string): boolean => dirs.length === 0 || dirs.some((d) => hasPathPrefix(d, p));
  const approaching = (p: string): boolean => dirs.length === 0 || dirs.some((d) => hasPathPrefix(p, d));

  if (ctx.global.json) ctx.out.jsonLine(lsSnapshotJson(found));
  else ctx.out.info(`snapshot ${shortId(found.id)} of ${goStringList(found.snapshot.paths)} filtered by ${goStringList(dirs)} at ${goTimeString(found.snapshot.time)}):`);

  const descend = (entry: WalkEntry): boolean => {
    const p = Buffer.from(entry.path).toString('utf8');
    if (within(p) && recursive) return true;
    return approaching(p);
  };
  for await (const entry of walkTree(repo, found.tree, { descend })) {
    const p = Buffer.from(entry.path).toString('utf8');
    if (!within(p)) continue;
    if (ctx.global.json) ctx.out.jsonLine(lsNodeJson(entry.path, entry.node));
    else ctx.out.raw(Buffer.concat([long ? formatNodeLong(entry.path, entry.node) : Buffer.from(entry.path), Buffer.from('\n')]));
  }
}

export const lsCommand: Command = {
  name: 'ls',
  summary: 'List files in a snapshot',
  usage: 'ls [flags] snapshotID[:subfolder] [dir...]',
  flags: [
    { name: 'long', short: 'l', kind: 'boolean', description: 'use a long listing format showing size and mode' },
    { name: 'recursive', kind: 'boolean', description: 'include files in subfolders of the listed directories' },
    ...SNAPSHOT_FILTER_FLAGS,
  ],
  run,
};
