/**
 * Recover a repository in a versioned S3 bucket: what changed since TIME (audit), the
 * repository as it stood at TIME (point-in-time view), and the rollback plan — applied only
 * with --apply. The library calls behind `restic-ts audit`, `--as-of` and `rollback`.
 *
 *   AWS_ACCESS_KEY_ID=… AWS_SECRET_ACCESS_KEY=… \
 *   npx tsx docs/examples/s3-recovery.ts s3:https://HOST/BUCKET/PREFIX PASSWORD_FILE TIME [--apply]
 *
 * TIME is RFC 3339 ("2026-11-26T13:05:00Z") or local "2026-11-26 14:05:00". Nothing is
 * changed without --apply, and even then no object version is deleted: a rollback can itself
 * be rolled back. See docs/securing-backups-on-s3.md. In your own project import from 'restic-ts'.
 */
import { readFile } from 'node:fs/promises';
import {
  applyRollback,
  auditHistory,
  bucketVersioning,
  checkRepository,
  confirmByContent,
  formatInstant,
  listVersionHistory,
  openAsOf,
  openBackend,
  parseTimeArgument,
  planRollback,
  repositoryKeyPrefix,
  Repository,
  requireEnabledVersioning,
  requireS3Backend,
  requireVersionedHistory,
  shortId,
} from '../../src/index.js';

const [location, passwordFile, timeText, ...rest] = process.argv.slice(2);
if (location === undefined || passwordFile === undefined || timeText === undefined) {
  console.error('usage: s3-recovery.ts s3:… PASSWORD_FILE TIME [--apply]');
  process.exit(2);
}
const apply = rest.includes('--apply');
const password = (await readFile(passwordFile, 'utf8')).replace(/\r?\n$/, '');
const timeMs = parseTimeArgument(timeText, 'TIME');

const backend = await openBackend(location); // S3 settings from the AWS_* environment variables
const s3 = requireS3Backend(backend, 'this example'); // the S3Backend under the retry/limit layers

// One listing of every object version under the prefix serves the audit, the view and the plan.
const history = await listVersionHistory(s3);
await requireVersionedHistory(s3, history, 'a recovery'); // NOT_VERSIONED when the bucket keeps no history
const prefix = repositoryKeyPrefix(s3);

const audit = auditHistory(history, timeMs, prefix);
console.log(`since ${formatInstant(timeMs)}: ${audit.events.length} changes, ${audit.suspiciousCount} suspicious`);
for (const e of audit.events.filter((x) => x.suspicious)) console.log(`  ${e.kind} ${e.key}: ${e.suspicious}`);

// The repository as it was at TIME, read-only: every read API works on it.
const past = await Repository.open({ backend: await openAsOf(s3, timeMs, { history }), password });
for (const { id, snapshot } of await past.listSnapshots()) console.log(`  at TIME: snapshot ${shortId(id)} ${snapshot.time.toString()} ${snapshot.hostname}`);
await past.close();

// What must change for the prefix to look as it did at TIME.
const plan = await confirmByContent(s3, planRollback(history, timeMs, prefix));
console.log(`rollback plan: ${plan.changes.length} objects to change, ${plan.unchanged} unchanged`);
for (const c of plan.changes) console.log(`  ${c.action} ${c.key}`);

if (apply && plan.changes.length > 0) {
  if (plan.blockingLocks.length > 0) throw new Error('lock files written after TIME exist: stop every client first');
  requireEnabledVersioning(await bucketVersioning(s3), s3); // with versioning suspended, a copy would replace history
  const result = await applyRollback(s3, plan, { onProgress: (p) => process.stderr.write(`\r${p.done}/${p.total}`) });
  console.log(`\napplied ${result.applied}, failed ${result.failed.length}`);
  // End with a structural check of the result, as the rollback command does.
  const repo = await Repository.open({ backend, password });
  const report = await checkRepository(repo);
  console.log(`check: ${report.snapshots} snapshots, ${report.errors} errors`);
  await repo.close();
  if (result.failed.length > 0 || report.errors > 0) process.exitCode = 1;
}
