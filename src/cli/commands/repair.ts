/**
 * `repair index [--read-all-packs]` (and restic 0.14's name for it, `rebuild-index`): rebuilds
 * the index from the pack files (maintenance/repair-index.ts). Exclusive lock.
 * `repair snapshots [--forget] [--dry-run] [filters] [ID…]`: maintenance/repair-snapshots.ts,
 * with restic 0.16's output (restic 0.14 has no such command). Exclusive lock.
 */
import { ResticError } from '../../errors.js';
import { goQuote } from '../../format/json.js';
import { shortId } from '../../format/id.js';
import { repairIndex } from '../../maintenance/repair-index.js';
import { describeSnapshot, repairSnapshots } from '../../maintenance/repair-snapshots.js';
import type { Command, CommandContext } from '../command.js';
import { goTimeString } from './copy.js';
import { SNAPSHOT_FILTER_FLAGS } from './snapshots.js';
import { selectSnapshots } from './snapshots.js';

const quote = (path: string): string => `"${goQuote(Buffer.from(path, 'utf8'))}"`;

async function runRepairSnapshots(ctx: CommandContext): Promise<void> {
  const { out } = ctx;
  const dryRun = ctx.flags.boolean('dry-run');
  const repo = await ctx.openRepository({ lock: 'exclusive' });
  const snapshots = await selectSnapshots(ctx, ctx.positionals.slice(1));
  const result = await repairSnapshots(repo, snapshots, {
    forget: ctx.flags.boolean('forget'),
    dryRun,
    onEvent: (e) => {
      switch (e.kind) {
        case 'snapshot':
          out.info('');
          out.info(describeSnapshot(e.id, e.snapshot, goTimeString(e.snapshot.time)));
          break;
        case 'file-content-removed':
          out.info(`  file ${quote(e.path)}: removed missing content`);
          break;
        case 'file-size-fixed':
          out.info(`  file ${quote(e.path)}: fixed incorrect size`);
          break;
        case 'dir-replaced':
          out.info(`  dir ${quote(e.path)}: replaced with empty directory`);
          break;
        case 'root-unreadable':
          out.info('  dir "/": not readable');
          break;
        case 'snapshot-removed':
          out.info(dryRun ? 'would delete empty snapshot' : `removed empty snapshot ${shortId(e.id)}`);
          break;
        case 'snapshot-saved':
          out.info(`saved new snapshot ${shortId(e.newId)}`);
          break;
        case 'old-snapshot-removed':
          out.info(`removed old snapshot ${shortId(e.id)}`);
          break;
      }
    },
  });
  out.info('');
  const n = result.modified.length;
  if (n === 0) out.info(dryRun ? 'no snapshots would be modified' : 'no snapshots were modified');
  else out.info(dryRun ? `would modify ${n} snapshots` : `modified ${n} snapshots`);
}

async function runRepairIndex(ctx: CommandContext): Promise<void> {
  const { out } = ctx;
  const repo = await ctx.openRepository({ lock: 'exclusive' });
  out.info('loading indexes...');
  let announcedRead = false;
  const result = await repairIndex(repo, {
    readAllPacks: ctx.flags.boolean('read-all-packs'),
    onProgress: (e) => {
      switch (e.kind) {
        case 'index-damaged':
          out.warn(`removing damaged index ${e.file}: ${e.message}`);
          break;
        case 'read-packs':
          out.info('getting pack files to read...');
          if (e.total > 0) {
            out.info('reading pack files');
            announcedRead = true;
          }
          break;
        case 'pack-read':
          out.warn(`adding pack file to index ${e.packId}`);
          break;
        case 'pack-damaged':
          out.warn(`skipping damaged pack ${e.file}: ${e.message}`);
          break;
        case 'delete-old':
          if (announcedRead) out.info('');
          out.info('rebuilding index');
          out.info('');
          out.info('deleting obsolete index files');
          break;
      }
    },
  });
  if (result.missingPacks.length > 0) out.info(`removed ${result.missingPacks.length} missing packs from the index`);
  out.info('');
  out.info('done');
}

const FLAGS = [{ name: 'read-all-packs', kind: 'boolean' as const, description: 'read all pack files to generate new index from scratch' }];

export const repairCommand: Command = {
  name: 'repair',
  summary: 'Repair the repository',
  usage: 'repair index [flags] | repair snapshots [flags] [snapshot ID ...]',
  flags: [
    ...FLAGS,
    { name: 'forget', kind: 'boolean', description: 'repair snapshots: remove the original, damaged snapshots after the repaired ones are saved' },
    { name: 'dry-run', short: 'n', kind: 'boolean', description: 'repair snapshots: do not change anything, only report' },
    ...SNAPSHOT_FILTER_FLAGS,
  ],
  async run(ctx) {
    const sub = ctx.positionals[0];
    if (sub === 'index' && ctx.positionals.length === 1) return runRepairIndex(ctx);
    if (sub === 'snapshots') return runRepairSnapshots(ctx);
    throw new ResticError('USAGE', 'repair: want `repair index` or `repair snapshots`');
  },
};

export const rebuildIndexCommand: Command = {
  name: 'rebuild-index',
  summary: 'Build a new index (restic 0.14 name of `repair index`)',
  usage: 'rebuild-index [flags]',
  flags: FLAGS,
  async run(ctx) {
    if (ctx.positionals.length > 0) throw new ResticError('USAGE', 'rebuild-index takes no arguments');
    return runRepairIndex(ctx);
  },
};
