/**
 * Routine maintenance: tag, diff, forget with a keep policy, prune, check, and add a key —
 * the library calls behind `restic-ts tag|diff|forget --prune|check|key add`.
 *
 *   npx tsx docs/examples/maintenance.ts REPOSITORY PASSWORD_FILE [NEW_KEY_PASSWORD_FILE]
 *
 * Keeps the newest 2 snapshots per host and path set (like `forget --keep-last 2 --prune`).
 * In your own project import from 'restic-ts'.
 */
import { readFile } from 'node:fs/promises';
import {
  acquireLock,
  addKey,
  applyPrunePlan,
  checkRepository,
  diffTrees,
  forget,
  openBackend,
  parseReadDataSubset,
  planPrune,
  Repository,
  shortId,
  tagSnapshots,
} from '../../src/index.js';

const [location, passwordFile, newKeyPasswordFile] = process.argv.slice(2);
if (location === undefined || passwordFile === undefined) {
  console.error('usage: maintenance.ts REPOSITORY PASSWORD_FILE [NEW_KEY_PASSWORD_FILE]');
  process.exit(2);
}
const readPassword = async (file: string) => (await readFile(file, 'utf8')).replace(/\r?\n$/, '');
const repo = await Repository.open({ backend: await openBackend(location), password: await readPassword(passwordFile) });

// forget, prune, tag and key changes take the exclusive lock, as restic does.
const lock = await acquireLock(repo, { exclusive: true });
try {
  // diff: the two newest snapshots of the repository.
  const newest = (await repo.listSnapshots()).sort((x, y) => y.snapshot.time.compare(x.snapshot.time));
  if (newest.length >= 2) {
    const [b, a] = newest;
    const stats = await diffTrees(repo, a.snapshot.tree, b.snapshot.tree, {
      onChange: (c) => console.log(`${c.modifier.padEnd(4)} ${c.path}`),
    });
    console.log(`diff ${shortId(a.id)} -> ${shortId(b.id)}: ${stats.changedFiles} changed files, +${stats.added.bytes} / -${stats.removed.bytes} bytes`);
  }

  // tag: rewrites the snapshot (new ID, `original` set) and deletes the old file.
  const tagged = await tagSnapshots(repo, newest.slice(0, 1), { add: ['checked'] });
  for (const m of tagged.modified) console.log(`tagged ${shortId(m.oldId)} -> ${shortId(m.newId)}`);

  // forget: restic's policy engine (groups, ISO weeks, reasons), then prune what no snapshot needs.
  const decision = await forget(repo, { policy: { last: 2 } });
  for (const g of decision.groups) console.log(`group ${g.keyJson}: keep ${g.keep.length}, remove ${g.remove.length}`);
  console.log(`removed ${decision.deleted.length} snapshots`);

  const plan = await planPrune(repo); // restic's plan; --max-unused 5% by default
  console.log(`prune: ${plan.stats.packs.remove} packs to delete, ${plan.stats.packs.repack} to repack, ${plan.stats.size.unused} unused bytes`);
  const applied = await applyPrunePlan(repo, plan);
  console.log(`prune: deleted ${applied.deletedPacks.length + applied.deletedUnreferencedPacks.length} packs, wrote ${applied.newPacks.length}`);

  // check: structure, plus every pack's bytes (`--read-data`; try parseReadDataSubset('10%')).
  const report = await checkRepository(repo, { readData: parseReadDataSubset('100%') });
  for (const f of report.findings) console.log(`check ${f.severity}: ${f.file ?? ''} ${f.message}`);
  console.log(`check: ${report.snapshots} snapshots, ${report.trees} trees, ${report.packsRead} packs read, ${report.errors} errors`);

  // key add: a second password for the same master key (restic opens it too).
  if (newKeyPasswordFile !== undefined) {
    const key = await addKey(repo, await readPassword(newKeyPasswordFile));
    console.log(`added key ${shortId(key.id)}`);
  }
  if (report.errors > 0) process.exitCode = 1;
} finally {
  await lock.release();
  await repo.close();
}
