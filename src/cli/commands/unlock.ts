/**
 * `unlock [--remove-all]`: removes stale locks (older than 30 minutes, or from this host with
 * a process that is gone), or every lock. Loading this module also registers restic-style
 * locking for the CLI framework, so commands that ask for a lock get one.
 */
import { acquireLock, lockStoreFor, removeLocks } from '../../repository/lock.js';
import { registerRepositoryLocker, type Command, type CommandContext } from '../command.js';

registerRepositoryLocker(async (repo, exclusive, out, signal) => {
  const lock = await acquireLock(lockStoreFor(repo), {
    exclusive,
    signal,
    onRefreshError: (err) => out.warn(`failed to refresh lock: ${(err as Error).message}`),
  });
  return { release: () => lock.release() };
});

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
