/**
 * Open a repository, list and filter its snapshots, and resolve `latest`, an ID prefix and
 * `snapshot:subpath` — the read side's entry points.
 *
 *   npx tsx docs/examples/snapshots.ts [REPOSITORY] [PASSWORD_FILE]
 *
 * Defaults to the bundled example repository. In your own project import from 'restic-ts'.
 */
import { readFile } from 'node:fs/promises';
import { isResticError, matchesFilter, openBackend, Repository, shortId } from '../../src/index.js';

const location = process.argv[2] ?? 'fixtures/example-repo';
const password = (await readFile(process.argv[3] ?? 'fixtures/example-repo.password', 'utf8')).replace(/\r?\n$/, '');

const repo = await Repository.open({ backend: await openBackend(location), password });
try {
  console.log(`repository ${repo.config.id} (format version ${repo.config.version}), opened with key ${shortId(repo.keyId ?? '')}`);

  // Every snapshot, oldest first (restic's order), with its parsed fields.
  const all = await repo.listSnapshots();
  for (const { id, snapshot } of all) {
    console.log(`${shortId(id)}  ${snapshot.time.toString()}  ${snapshot.hostname}  [${(snapshot.tags ?? []).join(',')}]  ${(snapshot.paths ?? []).join(' ')}`);
  }

  // Filters as `--host` / `--tag` / `--path` (tags: a list of alternatives, each a list of tags that must all be present).
  const daily = all.filter((e) => matchesFilter(e.snapshot, { tags: [['daily']] }));
  console.log(`tagged daily: ${daily.length}`);

  // `latest` (optionally within a filter), a unique ID prefix, and `snapshot:subpath`.
  const latest = await repo.findSnapshot('latest');
  const byPrefix = await repo.findSnapshot(shortId(latest.id));
  const firstPath = latest.snapshot.paths?.[0] ?? '/';
  const sub = await repo.findSnapshot(`${shortId(latest.id)}:${firstPath}`);
  console.log(`latest: ${shortId(latest.id)} (prefix resolves to ${shortId(byPrefix.id)}); tree of ${firstPath}: ${shortId(sub.tree)}`);

  // Failures are ResticErrors with a stable code (see docs/errors.md).
  try {
    await repo.findSnapshot('ffffffff');
  } catch (err) {
    if (!isResticError(err, 'SNAPSHOT_NOT_FOUND')) throw err;
    console.log(`unknown prefix: ${err.code} (exit code ${err.exitCode}): ${err.message}`);
  }
} finally {
  await repo.close();
}
