/**
 * The command registry. To add a command: create `src/cli/commands/<name>.ts` exporting a
 * `Command`, import it here and add it to the list (one line each).
 */
import type { Command } from '../command.js';
import { backupCommand } from './backup.js';
import { catCommand } from './cat.js';
import { forgetCommand } from './forget.js';
import { pruneCommand } from './prune.js';
import { initCommand } from './init.js';
import { unlockCommand } from './unlock.js';
import { keyCommand } from './key.js';
import { listCommand } from './list.js';
import { dumpCommand } from './dump.js';
import { findNodesCommand } from './find.js';
import { lsCommand } from './ls.js';
import { restoreCommand } from './restore.js';
import { snapshotsCommand } from './snapshots.js';
import { statsCommand } from './stats.js';
import { versionCommand } from './version.js';
import { rollbackCommand } from './rollback.js';
import { auditCommand } from './audit.js';
import { checkCommand } from './check.js';
import { tagCommand } from './tag.js';

export const COMMANDS: readonly Command[] = [
  backupCommand,
  catCommand,
  forgetCommand,
  pruneCommand,
  initCommand,
  unlockCommand,
  keyCommand,
  listCommand,
  dumpCommand,
  findNodesCommand,
  lsCommand,
  restoreCommand,
  snapshotsCommand,
  statsCommand,
  versionCommand,
  checkCommand,
  tagCommand,
  rollbackCommand,
  auditCommand,
];

export function findCommand(name: string): Command | undefined {
  return COMMANDS.find((c) => c.name === name);
}
