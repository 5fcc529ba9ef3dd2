/**
 * `rollback --to TIME [--dry-run] [--force] [--no-check]`: brings a repository in a versioned
 * S3 bucket back to how it stood at TIME (src/s3/rollback.ts), e.g. after an attacker with
 * the backup credentials deleted or overwrote it. Prints the plan (counts and bytes per file
 * type; every object with -v or --json), applies it without deleting any object version,
 * confirms from a fresh listing that nothing is left to do, and ends with a structural check
 * of the result (the check command's structure checks, without reading pack data).
 */
import { Repository } from '../../repository/repository.js';
import { ResticError } from '../../errors.js';
import type { PlanFileType, PlannedChange, RollbackPlan } from '../../s3/rollback.js';
import { formatInstant, parseTimeArgument } from '../../s3/time.js';
import type { Command, CommandContext } from '../command.js';
import { formatBytes } from '../output.js';

const ACTION_TEXT: Record<PlannedChange['action'], string> = {
  'restore-overwritten': 'restore (overwritten)',
  'restore-deleted': 'restore (deleted)',
  'remove-added': 'remove (added)',
};

export function planTable(plan: RollbackPlan): string {
  const rows = (Object.keys(plan.totals) as PlanFileType[]).filter((t) => plan.totals[t].restore + plan.totals[t].remove > 0).map((t) => {
    const x = plan.totals[t];
    return [t, String(x.restore), formatBytes(x.restoreBytes), String(x.remove), formatBytes(x.removeBytes)];
  });
  const header = ['type', 'restore', 'bytes', 'remove', 'bytes'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => '  ' + cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [line(header), ...rows.map(line)].join('\n');
}

export function changeToJson(c: PlannedChange): Record<string, unknown> {
  const out: Record<string, unknown> = { key: c.key, type: c.type, name: c.name, action: c.action, bytes: c.bytes };
  if (c.source) out.source_version = { version_id: c.source.versionId, last_modified: formatInstant(c.source.time), etag: c.source.etag };
  out.current_version = { version_id: c.current.versionId, kind: c.current.kind, last_modified: formatInstant(c.current.time) };
  return out;
}

function totalsToJson(plan: RollbackPlan): Record<string, unknown> {
  return Object.fromEntries(
    (Object.keys(plan.totals) as PlanFileType[]).map((t) => {
      const x = plan.totals[t];
      return [t, { restore: x.restore, restore_bytes: x.restoreBytes, remove: x.remove, remove_bytes: x.removeBytes }];
    }),
  );
}

async function run(ctx: CommandContext): Promise<number | void> {
  const { flags, out, global } = ctx;
  if (global.asOf !== undefined) throw new ResticError('USAGE', 'rollback cannot be combined with --as-of (give the time with --to)');
  if (ctx.positionals.length > 0) throw new ResticError('USAGE', `rollback takes no arguments (got ${JSON.stringify(ctx.positionals[0])})`);
  const toText = flags.string('to');
  if (toText === undefined || toText === '') throw new ResticError('USAGE', 'rollback needs --to TIME (the time before the damage, e.g. "2026-11-26 14:05:00")');
  const timeMs = parseTimeArgument(toText, '--to');
  const dryRun = flags.boolean('dry-run');
  const force = flags.boolean('force');
  const noCheck = flags.boolean('no-check');

  // The S3 modules (and through them the AWS SDK) load only when this command runs.
  const { applyRollback, confirmByContent, planRollback, requireEnabledVersioning } = await import('../../s3/rollback.js');
  const { listVersionHistory, repositoryKeyPrefix, requireVersionedHistory } = await import('../../s3/version-history.js');
  const { openAsOf, requireS3Backend } = await import('../../s3/versioned-view.js');
  const { checkRepository } = await import('../../maintenance/check.js');
  const backend = await ctx.openBackend();
  const s3 = requireS3Backend(backend, 'rollback');
  const history = await listVersionHistory(s3, { signal: ctx.signal });
  const status = await requireVersionedHistory(s3, history, 'rollback');
  // Future TIME, no repository at TIME: the same refusals as --as-of, before anything changes.
  const view = await openAsOf(s3, timeMs, { history, timeText: toText });
  if (!dryRun) requireEnabledVersioning(status, s3);

  // The password is checked against the repository as it was at TIME before anything is
  // changed, so the final check cannot fail for want of it after the damage is done.
  let password: string | undefined;
  if (!noCheck && !dryRun) {
    password = await ctx.readPassword('enter password for repository: ');
    const keyHint = global.keyHint;
    await Repository.open({ backend: view, password, ...(keyHint !== undefined ? { keyHint } : {}) });
  }

  const plan = await confirmByContent(s3, planRollback(history, timeMs, repositoryKeyPrefix(s3)), ctx.signal);
  const result: Record<string, unknown> = {
    message_type: 'rollback',
    repository: s3.location,
    to: formatInstant(timeMs),
    dry_run: dryRun,
    changes: plan.changes.length,
    unchanged: plan.unchanged,
    totals: totalsToJson(plan),
    blocking_locks: plan.blockingLocks.map((l) => ({ name: l.name, key: l.key, last_modified: formatInstant(l.time) })),
  };
  if (global.json) result.plan = plan.changes.map(changeToJson);
  else {
    out.info(`${dryRun ? 'would roll back' : 'rolling back'} ${s3.location} to ${formatInstant(timeMs)}`);
    if (plan.changes.length === 0) out.info(`nothing to do: all ${plan.unchanged} objects already are as they were at ${formatInstant(timeMs)}`);
    else {
      out.info(`${plan.changes.length} objects to change, ${plan.unchanged} unchanged:`);
      out.info(planTable(plan));
      for (const c of plan.changes) {
        out.verbose(`  ${ACTION_TEXT[c.action].padEnd(21)} ${c.key} (${formatBytes(c.bytes)}${c.source ? `, version of ${formatInstant(c.source.time)}` : ''})`, 1);
      }
    }
    for (const l of plan.blockingLocks) out.warn(`lock ${l.key} was written at ${formatInstant(l.time)}, after ${formatInstant(timeMs)}`);
  }

  if (!dryRun && plan.changes.length > 0) {
    if (plan.blockingLocks.length > 0 && !force) {
      if (global.json) out.jsonLine(JSON.stringify(result));
      throw new ResticError(
        'LOCKED',
        `refusing to roll back: ${plan.blockingLocks.length} lock file(s) written after ${formatInstant(timeMs)} exist, so a restic process may be using the repository ` +
          '(or an attacker planted them). Stop every client, then re-run with --force to roll the locks back too.',
      );
    }
    const line = out.progress();
    const applied = await applyRollback(s3, plan, {
      signal: ctx.signal,
      onProgress: (p) => line.update(`rollback: ${p.done}/${p.total} objects`, p.done === p.total),
    });
    line.done();
    result.applied = applied.applied;
    result.failed = applied.failed.map((f) => ({ key: f.change.key, action: f.change.action, error: f.error.message }));
    for (const f of applied.failed) out.warn(`failed to ${ACTION_TEXT[f.change.action]} ${f.change.key}: ${f.error.message}`);
    // Confirm from a fresh listing (radosgw's CopyObject answer carries no version id to trust).
    const after = await confirmByContent(s3, planRollback(await listVersionHistory(s3, { signal: ctx.signal }), timeMs, repositoryKeyPrefix(s3)), ctx.signal);
    result.remaining = after.changes.length;
    if (!global.json) out.info(`applied ${applied.applied} changes, ${applied.failed.length} failed, ${after.changes.length} left to do`);
    if (applied.failed.length > 0 || after.changes.length > 0) {
      if (global.json) out.jsonLine(JSON.stringify(result));
      throw new ResticError(
        'FATAL',
        `rollback incomplete: ${applied.failed.length} changes failed and ${after.changes.length} remain; fix the cause and run the same rollback again (it resumes)`,
      );
    }
  }

  if (!dryRun && !noCheck) {
    const repo = await Repository.open({ backend, password: password!, ...(global.keyHint !== undefined ? { keyHint: global.keyHint } : {}) });
    // restic's structural check (helper K's src/maintenance/check.ts), without reading pack data.
    // The backend belongs to the command framework, which closes it.
    const report = await checkRepository(repo);
    const errors = report.findings.filter((f) => f.severity === 'error');
    result.check = { snapshots: report.snapshots, trees: report.trees, errors: report.errors, hints: report.hints, problems: errors.map((f) => f.message) };
    if (!global.json) out.info(`structural check: ${report.snapshots} snapshots, ${report.trees} trees, ${report.errors} errors, ${report.hints} hints`);
    for (const f of errors) out.warn(`check: ${f.file ? f.file + ': ' : ''}${f.message}`);
    if (report.errors > 0 || report.aborted) {
      if (global.json) out.jsonLine(JSON.stringify(result));
      throw new ResticError('CHECK_FAILED', `the rolled-back repository has ${report.errors} structural error(s) (listed above); it was not complete at ${formatInstant(timeMs)} either, or versions have expired`);
    }
  }
  if (global.json) out.jsonLine(JSON.stringify(result));
}

export const rollbackCommand: Command = {
  name: 'rollback',
  summary: 'Bring a repository in a versioned S3 bucket back to how it was at a time',
  usage: 'rollback --to TIME [--dry-run] [--force] [--no-check]',
  flags: [
    { name: 'to', kind: 'string', valueName: 'time', description: 'time to roll back to: RFC 3339 or "YYYY-MM-DD HH:MM:SS" (local time)' },
    { name: 'dry-run', short: 'n', kind: 'boolean', description: 'only print what would change' },
    { name: 'force', kind: 'boolean', description: 'roll back even while lock files written after TIME exist (they are removed too)' },
    { name: 'no-check', kind: 'boolean', description: 'skip the structural check at the end (and the password it needs)' },
  ],
  help:
    'Every object under the repository prefix is made to look as it did at TIME: overwritten and deleted objects get ' +
    'their old version copied back, objects created later get a delete marker. No object version is ever deleted, so ' +
    'a rollback can itself be rolled back. Running it again resumes an interrupted rollback; a finished one plans nothing. ' +
    'Lock files are never restored (their processes are gone). See docs/securing-backups-on-s3.md.',
  run,
};
