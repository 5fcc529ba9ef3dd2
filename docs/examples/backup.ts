/**
 * Create a repository when there is none, then back up three kinds of source: directories
 * from the file system, a buffer (or any stream) as one file, and a tree given as data.
 *
 *   npx tsx docs/examples/backup.ts REPOSITORY PASSWORD_FILE PATH...
 *
 * Everything written is ordinary restic format: `restic snapshots`, `restic restore` and
 * `restic check --read-data` accept it. In your own project import from 'restic-ts'.
 */
import { readFile } from 'node:fs/promises';
import { acquireLock, backup, backupStream, backupTree, initRepository, isResticError, openBackend, Repository, shortId } from '../../src/index.js';

const [location, passwordFile, ...paths] = process.argv.slice(2);
if (location === undefined || passwordFile === undefined || paths.length === 0) {
  console.error('usage: backup.ts REPOSITORY PASSWORD_FILE PATH...');
  process.exit(2);
}
const password = (await readFile(passwordFile, 'utf8')).replace(/\r?\n$/, '');
const backend = await openBackend(location);

// Open, or create a version 2 repository (restic's default) when the location has none.
let repo: Repository;
try {
  repo = await Repository.open({ backend, password });
} catch (err) {
  if (!isResticError(err, 'REPOSITORY_NOT_FOUND')) throw err;
  const created = await initRepository({ backend, password });
  console.log(`created repository ${created.config.id} (version ${created.config.version})`);
  repo = await Repository.open({ backend, password });
}

// Backups take a shared lock, as restic does: they may run beside each other, not beside prune.
const lock = await acquireLock(repo, { exclusive: false });
try {
  // 1. Files and directories, with restic's parent-snapshot change detection and excludes.
  const files = await backup({
    repository: repo,
    paths,
    tags: ['example'],
    excludes: ['*.tmp'],
    onItemError: (e) => console.error(`skipped ${e.item} (${e.during}): ${e.error.message}`),
  });
  const s = files.summary;
  console.log(`snapshot ${shortId(files.snapshotId!)}: ${s.filesNew} new, ${s.filesChanged} changed, ${s.filesUnmodified} unmodified files; ${s.dataAdded} bytes added`);

  // 2. A buffer (or an AsyncIterable<Uint8Array> such as a Readable) as one file, like `restic backup --stdin`.
  const dump = await backupStream(new TextEncoder().encode('-- database dump\nINSERT INTO t VALUES (1);\n'), {
    repository: repo,
    filename: 'db.sql',
    tags: ['stream'],
  });
  console.log(`snapshot ${shortId(dump.snapshotId!)}: /db.sql, ${dump.summary.totalBytesProcessed} bytes`);

  // 3. A tree described as data: nothing needs to exist on disk.
  const generated = await backupTree(
    {
      'README.txt': { type: 'file', content: 'made by docs/examples/backup.ts\n' },
      reports: { type: 'dir', entries: { '2026.csv': { type: 'file', content: 'month,total\n1,42\n', mode: 0o600 } } },
      latest: { type: 'symlink', target: 'reports/2026.csv' },
    },
    { repository: repo, paths: ['/generated'], tags: ['tree'] },
  );
  console.log(`snapshot ${shortId(generated.snapshotId!)}: ${generated.summary.filesNew} files, ${generated.summary.dirsNew} directories`);
} finally {
  await lock.release();
  await repo.close();
}
