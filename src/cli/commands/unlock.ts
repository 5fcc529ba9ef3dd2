/**
 * `unlock [--remove-all]`: removes stale locks (older than 30 minutes, or from this host with
 * a process that is gone), or every lock. (Commands get their locks from the CLI framework,
 * which uses src/repository/lock.ts.)
 */
import { lockStoreFor, removeLocks } from '../../repository/lock.js';
import type { Command, CommandContext } from '../command.js';

async function run(ctx: CommandContext): Promise<void> {
  const repo = await ctx.openRepository({ lock: 'none' });
  const result = await removeLocks(lockStoreFor(repo), { removeAll: ctx.flags.boolean('remove-all') });
  if (result.removed.length > 0) ctx.out.info(`successfully removed ${result.removed.length} locks`);
}

export const unlockCommand: Command = {
  name: 'unlock',
  summary: 'Remove locks other processes created',
  usage: 'unlock [flags]',
  flags: [{ name: 'remove-all', kind: 'boolean', description: 'remove all locks, even non-stale ones' }],
  help: 'The "unlock" command removes stale locks that have been created by other restic processes.',
  run,
};
