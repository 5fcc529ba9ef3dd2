/**
 * The command registry. Each command lives in `src/cli/commands/<name>.ts` and exports a
 * `Command`. Entries are lazy: only the module of the command being run is loaded, so
 * `restic-ts snapshots` does not pay for the S3 SDK, the archiver's workers, etc.
 *
 * To add a command, add one line (keep the summary equal to the command's own):
 *   lazy('name', 'One-line summary', async () => (await import('./name.js')).nameCommand),
 * (A plain imported `Command` object in the list works too, but loads eagerly.)
 */
import type { Command } from '../command.js';

/** A command known by name and summary, loaded on first use. */
export interface LazyCommand {
  name: string;
  summary: string;
  load(): Promise<Command>;
  /** True for the few commands that never open a repository (no key to derive). */
  noRepository?: boolean;
}

export type CommandEntry = Command | LazyCommand;

function lazy(name: string, summary: string, load: () => Promise<Command>, options: { noRepository?: boolean } = {}): LazyCommand {
  return { name, summary, load, ...options };
}

export const COMMANDS: readonly CommandEntry[] = [
  lazy('audit', 'Show what changed in a repository in a versioned S3 bucket since a time', async () => (await import('./audit.js')).auditCommand),
  lazy('backup', 'Create a new backup of files and/or directories', async () => (await import('./backup.js')).backupCommand),
  lazy('cat', 'Print internal objects to stdout', async () => (await import('./cat.js')).catCommand),
  lazy('check', 'Check the repository for errors', async () => (await import('./check.js')).checkCommand),
  lazy('copy', 'Copy snapshots from one repository to another', async () => (await import('./copy.js')).copyCommand),
  lazy('diff', 'Show differences between two snapshots', async () => (await import('./diff.js')).diffCommand),
  lazy('dump', 'Print a backed-up file to stdout', async () => (await import('./dump.js')).dumpCommand),
  lazy('find', 'Find a file, a directory or restic IDs', async () => (await import('./find.js')).findNodesCommand),
  lazy('forget', 'Remove snapshots from the repository', async () => (await import('./forget.js')).forgetCommand),
  lazy('init', 'Initialize a new repository', async () => (await import('./init.js')).initCommand),
  lazy('key', 'Manage keys (passwords)', async () => (await import('./key.js')).keyCommand),
  lazy('list', 'List objects in the repository', async () => (await import('./list.js')).listCommand),
  lazy('ls', 'List files in a snapshot', async () => (await import('./ls.js')).lsCommand),
  lazy('prune', 'Remove unneeded data from the repository', async () => (await import('./prune.js')).pruneCommand),
  lazy('rebuild-index', 'Build a new index (restic 0.14 name of `repair index`)', async () => (await import('./repair.js')).rebuildIndexCommand),
  lazy('repair', 'Repair the repository', async () => (await import('./repair.js')).repairCommand),
  lazy('restore', 'Extract the data from a snapshot', async () => (await import('./restore.js')).restoreCommand),
  lazy('rollback', 'Bring a repository in a versioned S3 bucket back to how it was at a time', async () => (await import('./rollback.js')).rollbackCommand),
  lazy('s3', 'Check and secure the S3 bucket of a repository (doctor, policy, retention)', async () => (await import('./s3.js')).s3Command),
  lazy('snapshots', 'List all snapshots', async () => (await import('./snapshots.js')).snapshotsCommand),
  lazy('stats', 'Scan the repository and show basic statistics', async () => (await import('./stats.js')).statsCommand),
  lazy('tag', 'Modify tags on snapshots', async () => (await import('./tag.js')).tagCommand),
  lazy('unlock', 'Remove locks other processes created', async () => (await import('./unlock.js')).unlockCommand),
  lazy('version', 'Print version information', async () => (await import('./version.js')).versionCommand, { noRepository: true }),
];

function isLazy(entry: CommandEntry): entry is LazyCommand {
  return 'load' in entry && typeof entry.load === 'function';
}

function entryNamed(name: string): CommandEntry | undefined {
  return COMMANDS.find((c) => c.name === name);
}

/** Whether the command named `name` exists and opens a repository (derives a key from a password). */
export function opensRepository(name: string): boolean {
  const entry = entryNamed(name);
  return entry !== undefined && !(isLazy(entry) && entry.noRepository === true);
}

/** The command named `name`, loaded; undefined when there is none. */
export async function findCommand(name: string): Promise<Command | undefined> {
  const entry = entryNamed(name);
  if (!entry) return undefined;
  return isLazy(entry) ? entry.load() : entry;
}
