/**
 * `repair index [--read-all-packs]` (and restic 0.14's name for it, `rebuild-index`): rebuilds
 * the index from the pack files (maintenance/repair-index.ts). Exclusive lock.
 * `repair snapshots` is not implemented.
 */
import { ResticError } from '../../errors.js';
import { repairIndex } from '../../maintenance/repair-index.js';
import type { Command, CommandContext } from '../command.js';

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
  usage: 'repair index [flags]',
  flags: FLAGS,
  async run(ctx) {
    const sub = ctx.positionals[0];
    if (sub === 'index' && ctx.positionals.length === 1) return runRepairIndex(ctx);
    if (sub === 'snapshots') throw new ResticError('UNSUPPORTED', 'repair snapshots is not implemented in restic-ts');
    throw new ResticError('USAGE', 'repair: want `repair index`');
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
