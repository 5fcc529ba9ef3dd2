/**
 * `restore SNAPSHOT[:SUBDIR] --target DIR [--include P | --exclude P] [--verify]`: restic
 * 0.14's restore — prints "restoring <Snapshot …> to DIR", a live progress line on a terminal,
 * "ignoring error for PATH: …" per failed item, and exits non-zero when anything failed
 * (with the first failure's code, e.g. MAC_FAILED or CORRUPT naming the pack).
 */
import { ResticError } from '../../errors.js';
import { shortId } from '../../format/id.js';
import type { Snapshot } from '../../format/snapshot.js';
import { restoreTree, type RestoreProgress } from '../../restorer/restore.js';
import type { Command, CommandContext } from '../command.js';
import { formatBytes } from '../output.js';
import { goStringList, goTimeString } from './ls.js';
import { SNAPSHOT_FILTER_FLAGS, latestFilter, snapshotFilterFromFlags } from './snapshots.js';

/** Go's `Snapshot.String()` as restic 0.14 prints it. */
export function snapshotString(id: string, sn: Snapshot): string {
  return `<Snapshot ${shortId(id)} of ${goStringList(sn.paths)} at ${goTimeString(sn.time)} by ${sn.username ?? ''}@${sn.hostname ?? ''}>`;
}

/** Go's Duration.String() of a duration rounded to milliseconds. */
export function goDurationMs(ms: number): string {
  const r = Math.round(ms);
  if (r === 0) return '0s';
  if (r < 1000) return `${r}ms`;
  const h = Math.floor(r / 3_600_000);
  const m = Math.floor((r % 3_600_000) / 60_000);
  const s = ((r % 60_000) / 1000).toFixed(3).replace(/\.?0+$/, '');
  if (h > 0) return `${h}h${m}m${s}s`;
  if (m > 0) return `${m}m${s}s`;
  return `${s}s`;
}

function progressText(p: RestoreProgress): string {
  const pct = p.bytesTotal > 0 ? ` ${((100 * p.bytesRestored) / p.bytesTotal).toFixed(2)}%` : '';
  return `[${p.phase}] ${p.filesRestored} / ${p.filesTotal} files ${formatBytes(p.bytesRestored)} / ${formatBytes(p.bytesTotal)}${pct}`;
}

async function run(ctx: CommandContext): Promise<void> {
  if (ctx.positionals.length === 0) throw new ResticError('USAGE', 'no snapshot ID specified');
  if (ctx.positionals.length > 1) throw new ResticError('USAGE', `more than one snapshot ID specified: [${ctx.positionals.join(' ')}]`);
  const target = ctx.flags.string('target') ?? '';
  if (target === '') throw new ResticError('USAGE', 'please specify a directory to restore to (--target)');
  const include = ctx.flags.strings('include');
  const exclude = ctx.flags.strings('exclude');
  const includeInsensitive = ctx.flags.strings('iinclude');
  const excludeInsensitive = ctx.flags.strings('iexclude');
  if (include.length + includeInsensitive.length > 0 && exclude.length + excludeInsensitive.length > 0) throw new ResticError('USAGE', 'exclude and include patterns are mutually exclusive');

  const repo = await ctx.openRepository({ lock: 'shared' });
  const found = await repo.findSnapshot(ctx.positionals[0], latestFilter(snapshotFilterFromFlags(ctx.flags), ctx.cwd));
  await repo.loadIndex();
  ctx.out.info(`restoring ${snapshotString(found.id, found.snapshot)} to ${target}`);

  const line = ctx.out.progress();
  const started = Date.now();
  let verifyStarted = 0;
  const summary = await restoreTree(repo, {
    tree: found.tree,
    target,
    include,
    exclude,
    includeInsensitive,
    excludeInsensitive,
    verify: ctx.flags.boolean('verify'),
    signal: ctx.signal,
    onProgress: (p) => {
      if (p.phase === 'verify' && verifyStarted === 0) {
        line.done();
        verifyStarted = Date.now();
        ctx.out.info(`verifying files in ${target}`);
      }
      line.update(progressText(p), p.phase === 'done');
    },
  });
  line.done();
  for (const e of summary.errors) ctx.out.warn(`ignoring error for ${e.path}: ${e.message}`);
  if (summary.errors.length > 0) {
    const first = summary.errors[0];
    throw new ResticError(first.code, `There were ${summary.errors.length} errors (first: ${first.path}: ${first.message})`);
  }
  if (ctx.flags.boolean('verify')) {
    if (verifyStarted === 0) {
      verifyStarted = Date.now();
      ctx.out.info(`verifying files in ${target}`);
    }
    ctx.out.info(`finished verifying ${summary.verified} files in ${target} (took ${goDurationMs(Date.now() - verifyStarted)})`);
  }
  ctx.out.verbose(`restored ${summary.files} files, ${summary.dirs} directories, ${summary.specials} other items, ${formatBytes(summary.bytes)} in ${goDurationMs(Date.now() - started)}`);
}

export const restoreCommand: Command = {
  name: 'restore',
  summary: 'Extract the data from a snapshot',
  usage: 'restore [flags] snapshotID[:subfolder] --target DIR',
  flags: [
    { name: 'target', short: 't', kind: 'string', valueName: 'dir', description: 'directory to extract data to' },
    { name: 'include', short: 'i', kind: 'strings', valueName: 'pattern', description: 'include a pattern, exclude everything else (can be specified multiple times)' },
    { name: 'exclude', short: 'e', kind: 'strings', valueName: 'pattern', description: 'exclude a pattern (can be specified multiple times)' },
    { name: 'iinclude', kind: 'strings', valueName: 'pattern', description: 'same as --include but ignores the casing of filenames' },
    { name: 'iexclude', kind: 'strings', valueName: 'pattern', description: 'same as --exclude but ignores the casing of filenames' },
    { name: 'verify', kind: 'boolean', description: 'verify restored files content' },
    ...SNAPSHOT_FILTER_FLAGS,
  ],
  run,
};
