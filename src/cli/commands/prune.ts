/**
 * `prune [--dry-run] [--max-unused L] [--max-repack-size S] [--repack-cacheable-only]
 * [--repack-small] [--repack-uncompressed]`: removes data no snapshot needs, printing what
 * restic 0.14 prints (the statistics block; with -v the detailed counts).
 *
 * Test-only hook: when RESTIC_TS_TEST_PRUNE_KILL_AT=`step[:n]` is set (step names in
 * maintenance/prune-apply.ts, `PruneStep`), the process kills itself with SIGKILL right after
 * the n-th (default first) occurrence of that step. Integration tests use it to check that an
 * interrupted prune leaves a repository restic accepts. Never set it otherwise.
 */
import { parseLocation } from '../../backend/location.js';
import { shortId, type Id } from '../../format/id.js';
import { applyPrunePlan, type PruneStep } from '../../maintenance/prune-apply.js';
import { parseMaxUnused, parseSize, planPrune, type PruneOptions, type PrunePlan, type PruneStats } from '../../maintenance/prune.js';
import { MIB } from '../../pack/packer.js';
import type { Repository } from '../../repository/repository.js';
import { ResticError } from '../../errors.js';
import type { FlagSpec } from '../args.js';
import type { Command, CommandContext } from '../command.js';
import { formatBytes } from '../output.js';

/** Flags shared with `forget --prune`. */
export const PRUNE_FLAGS: FlagSpec[] = [
  {
    name: 'max-unused',
    kind: 'string',
    valueName: 'limit',
    description: "tolerate given limit of unused data (absolute value in bytes with suffixes k/K, m/M, g/G, t/T, a value in % or the word 'unlimited') (default \"5%\")",
  },
  { name: 'max-repack-size', kind: 'string', valueName: 'size', description: 'maximum size to repack (allowed suffixes: k/K, m/M, g/G, t/T)' },
  { name: 'repack-cacheable-only', kind: 'boolean', description: 'only repack packs which are cacheable' },
  { name: 'repack-small', kind: 'boolean', description: 'repack pack files below 80% of target pack size' },
  { name: 'repack-uncompressed', kind: 'boolean', description: 'repack all uncompressed data' },
];

/** Validated prune settings from the flags: USAGE errors before the repository is opened. */
export function pruneOptionsFromFlags(ctx: CommandContext): PruneOptions {
  const options: PruneOptions = { maxUnused: parseMaxUnused(ctx.flags.string('max-unused') ?? '5%') };
  const maxRepack = ctx.flags.string('max-repack-size');
  if (maxRepack !== undefined && maxRepack !== '') options.maxRepackBytes = parseSize(maxRepack, '--max-repack-size');
  options.repackCacheableOnly = ctx.flags.boolean('repack-cacheable-only');
  options.repackSmall = ctx.flags.boolean('repack-small');
  options.repackUncompressed = ctx.flags.boolean('repack-uncompressed');
  if (options.repackUncompressed && ctx.global.compression === 'off') {
    throw new ResticError('USAGE', 'disabled compression and `--repack-uncompressed` are mutually exclusive');
  }
  if (ctx.global.packSizeMiB !== undefined) options.packSize = ctx.global.packSizeMiB * MIB;
  return options;
}

/** Go's formatPercent: `%3.2f%%`, capped at 100, empty for a zero denominator. */
function formatPercent(numerator: number, denominator: number): string {
  if (denominator === 0) return '';
  return `${Math.min(100, (100 * numerator) / denominator).toFixed(2)}%`;
}

const pad10 = (n: number): string => String(n).padStart(10);

/** restic's printPruneStats. `info` = Verbosef (default verbosity), `detail` = Verboseff (-v). */
function printStats(ctx: CommandContext, s: PruneStats): void {
  const detail = (text: string): void => {
    if (ctx.global.verbosity >= 1) ctx.out.info(text);
  };
  const info = (text: string): void => ctx.out.info(text);
  detail(`\nused:         ${pad10(s.blobs.used)} blobs / ${formatBytes(s.size.used)}`);
  if (s.blobs.duplicate > 0) detail(`duplicates:   ${pad10(s.blobs.duplicate)} blobs / ${formatBytes(s.size.duplicate)}`);
  detail(`unused:       ${pad10(s.blobs.unused)} blobs / ${formatBytes(s.size.unused)}`);
  if (s.size.unref > 0) detail(`unreferenced:                    ${formatBytes(s.size.unref)}`);
  const totalBlobs = s.blobs.used + s.blobs.unused + s.blobs.duplicate;
  const totalSize = s.size.used + s.size.duplicate + s.size.unused + s.size.unref;
  const unusedSize = s.size.duplicate + s.size.unused;
  detail(`total:        ${pad10(totalBlobs)} blobs / ${formatBytes(totalSize)}`);
  detail(`unused size: ${formatPercent(unusedSize, totalSize)} of total size`);

  info(`\nto repack:    ${pad10(s.blobs.repack)} blobs / ${formatBytes(s.size.repack)}`);
  info(`this removes: ${pad10(s.blobs.repackrm)} blobs / ${formatBytes(s.size.repackrm)}`);
  info(`to delete:    ${pad10(s.blobs.remove)} blobs / ${formatBytes(s.size.remove + s.size.unref)}`);
  const totalPrune = s.size.remove + s.size.repackrm + s.size.unref;
  info(`total prune:  ${pad10(s.blobs.remove + s.blobs.repackrm)} blobs / ${formatBytes(totalPrune)}`);
  info(`remaining:    ${pad10(totalBlobs - (s.blobs.remove + s.blobs.repackrm))} blobs / ${formatBytes(totalSize - totalPrune)}`);
  const unusedAfter = unusedSize - s.size.remove - s.size.repackrm;
  info(`unused size after prune: ${formatBytes(unusedAfter)} (${formatPercent(unusedAfter, totalSize - totalPrune)} of remaining size)`);
  info('');
  detail(`totally used packs: ${pad10(s.packs.used)}`);
  detail(`partly used packs:  ${pad10(s.packs.partlyUsed)}`);
  detail(`unused packs:       ${pad10(s.packs.unused)}\n\n`);
  detail(`to keep:      ${pad10(s.packs.keep)} packs`);
  detail(`to repack:    ${pad10(s.packs.repack)} packs`);
  detail(`to delete:    ${pad10(s.packs.remove)} packs`);
  if (s.packs.unref > 0) detail(`to delete:    ${pad10(s.packs.unref)} unreferenced packs\n\n`);
}

/** Go's `%v` of an IDSet: short IDs of the sorted set in braces. */
export function formatIdSet(ids: Iterable<Id>): string {
  return `{${[...ids].sort().map(shortId).join(' ')}}`;
}

/** The test-only crash hook (see the module comment). */
function killHook(env: CommandContext['env']): ((step: PruneStep) => void) | undefined {
  const spec = env.RESTIC_TS_TEST_PRUNE_KILL_AT;
  if (spec === undefined || spec === '') return undefined;
  const [wanted, countText] = spec.split(':');
  let remaining = countText === undefined ? 1 : Number(countText);
  return (step) => {
    if (step !== wanted) return;
    if (--remaining <= 0) process.kill(process.pid, 'SIGKILL');
  };
}

function isS3Location(repository: string | undefined): boolean {
  if (repository === undefined) return true; // unknown: let the object-lock check decide
  try {
    return parseLocation(repository).scheme !== 'local';
  } catch {
    return true;
  }
}

/**
 * restic's runPruneWithRepo: index, plan, statistics, then (unless dry-run) the crash-safe
 * apply. The caller has opened the repository with an exclusive lock.
 */
export async function runPruneWithRepo(ctx: CommandContext, repo: Repository, options: PruneOptions, dryRun: boolean): Promise<void> {
  const { out } = ctx;
  if (repo.config.version < 2 && options.repackUncompressed) {
    throw new ResticError('UNSUPPORTED_VERSION', 'compression requires at least repository format version 2');
  }
  out.info('loading indexes...');
  await repo.loadIndex();
  // Object-locked S3 bucket (issue 5): keep locked packs out of repacking, report what stays stored.
  // Only an S3 repository can have object lock; the module that checks it loads the AWS SDK
  // (~0.25 s of CPU), which a local repository should not pay for.
  const objectLock = isS3Location(ctx.global.repository) ? await (await import('./s3.js')).pruneObjectLock(ctx, repo.backend) : undefined;
  const plan: PrunePlan = await planPrune(repo, {
    ...options,
    ...(objectLock ? { lockedPacks: objectLock.lockedPacks } : {}),
    onProgress: (e) => {
      if (e.phase === 'snapshots') {
        out.info(`loading all snapshots...\nfinding data that is still in use for ${e.count} snapshots`);
      }
    },
  });
  out.info('searching used packs...\ncollecting packs for deletion and repacking');
  if (ctx.global.verbosity >= 1) {
    for (const id of [...plan.removePacksFirst.keys()].sort()) out.info(`will remove pack ${shortId(id)} as it is unused and not indexed`);
  }
  if (plan.ignorePacks.size > 0) {
    out.warn('Missing but unneeded pack files are referenced in the index, will be repaired');
    for (const id of [...plan.ignorePacks].sort()) out.warn(`will forget missing pack file ${id}`);
  }
  printStats(ctx, plan.stats);
  await objectLock?.print(repo, plan);

  if (dryRun) {
    if (!ctx.global.json && ctx.global.verbosity >= 1) {
      if (plan.removePacksFirst.size > 0) out.print(`Would have removed the following unreferenced packs:\n${formatIdSet(plan.removePacksFirst.keys())}\n\n`);
      out.print(`Would have repacked and removed the following packs:\n${formatIdSet(plan.repackPacks)}\n\n`);
      out.print(`Would have removed the following no longer used packs:\n${formatIdSet(plan.removePacks)}\n\n`);
    }
    return;
  }

  const hook = killHook(ctx.env);
  const result = await applyPrunePlan(repo, plan, {
    compression: ctx.global.compression,
    // Ctrl-C must stop the apply before its next write or delete: the CLI releases the
    // exclusive lock on abort, and an apply that went on without it could race a backup.
    signal: ctx.signal,
    ...(options.packSize !== undefined ? { packSize: options.packSize } : {}),
    onStep: (step) => {
      hook?.(step);
      if (step === 'deleting-unreferenced') out.info('deleting unreferenced packs');
      else if (step === 'repacking') out.info('repacking packs');
      else if (step === 'writing-index') out.info('rebuilding index');
      else if (step === 'deleting-index') out.info('deleting obsolete index files');
      else if (step === 'deleting-packs') out.info(`removing ${plan.removePacks.size + plan.repackPacks.size} old packs`);
    },
  });
  for (const f of result.failedDeletions) out.warn(`unable to remove ${f.file}: ${f.error}`);
  out.info('done');
}

async function run(ctx: CommandContext): Promise<void> {
  const options = pruneOptionsFromFlags(ctx);
  const dryRun = ctx.flags.boolean('dry-run');
  const repo = await ctx.openRepository({ lock: 'exclusive' });
  await runPruneWithRepo(ctx, repo, options, dryRun);
}

export const pruneCommand: Command = {
  name: 'prune',
  summary: 'Remove unneeded data from the repository',
  usage: 'prune [flags]',
  flags: [{ name: 'dry-run', short: 'n', kind: 'boolean', description: 'do not modify the repository, just print what would be done' }, ...PRUNE_FLAGS],
  help: 'The "prune" command checks the repository and removes data that is not\nreferenced and therefore not needed any more.',
  run,
};
