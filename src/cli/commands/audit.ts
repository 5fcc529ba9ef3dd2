/**
 * `audit --since TIME [--json] [-v]`: what changed under a repository prefix in a versioned
 * S3 bucket since TIME (src/s3/audit.ts): objects added, overwritten (always suspicious),
 * deleted; key files; locks; and snapshots whose recorded time does not fit when they were
 * written, or whose content is not what restic would have written under that name.
 * The snapshot check needs the repository password; without one it is skipped and says so.
 */
import { ResticError } from '../../errors.js';
import type { MasterKey } from '../../crypto/index.js';
import { Repository } from '../../repository/repository.js';
import type { AuditEvent, AuditReport, SnapshotFinding } from '../../s3/audit.js';
import { formatInstant, parseTimeArgument, rejectFutureTime } from '../../s3/time.js';
import type { VersionHistory } from '../../s3/version-history.js';
import type { Backend } from '../../backend/backend.js';
import type { Command, CommandContext } from '../command.js';
import { formatBytes } from '../output.js';

const KINDS = ['added', 'overwritten', 'deleted', 'recreated', 'delete-marker'] as const;

function eventLine(e: AuditEvent): string {
  return `  ${formatInstant(e.time)}  ${e.kind.padEnd(11)}  ${e.key}${e.size > 0 ? ` (${formatBytes(e.size)})` : ''}${e.suspicious ? `  !! ${e.suspicious}` : ''}`;
}

function findingLine(f: SnapshotFinding): string {
  const head = `  ${f.name.slice(0, 8)}  written ${formatInstant(f.written)}${f.recorded ? `  records ${f.recorded}` : ''}${f.hostname ? `  host ${f.hostname}` : ''}`;
  return f.kind === 'ok' ? `${head}  ok` : `${head}\n    !! ${f.kind.toUpperCase()}: ${f.detail ?? ''}`;
}

/** The master key: from the repository as it is now, else as it was at TIME (the attacker may have replaced config or keys). */
async function openMasterKey(backend: Backend, history: VersionHistory, sinceMs: number, password: string, ctx: CommandContext): Promise<MasterKey> {
  const keyHint = ctx.global.keyHint;
  const { openAsOf, requireS3Backend } = await import('../../s3/versioned-view.js');
  try {
    return (await Repository.open({ backend, password, ...(keyHint !== undefined ? { keyHint } : {}) })).masterKey;
  } catch (nowErr) {
    const s3 = requireS3Backend(backend, 'audit');
    try {
      const view = await openAsOf(s3, sinceMs, { history });
      return (await Repository.open({ backend: view, password, ...(keyHint !== undefined ? { keyHint } : {}) })).masterKey;
    } catch {
      throw nowErr;
    }
  }
}

async function run(ctx: CommandContext): Promise<void> {
  const { flags, out, global } = ctx;
  if (global.asOf !== undefined) throw new ResticError('USAGE', 'audit cannot be combined with --as-of (give the time with --since)');
  if (ctx.positionals.length > 0) throw new ResticError('USAGE', `audit takes no arguments (got ${JSON.stringify(ctx.positionals[0])})`);
  const sinceText = flags.string('since');
  if (sinceText === undefined || sinceText === '') throw new ResticError('USAGE', 'audit needs --since TIME, e.g. --since "2026-11-26 14:05:00"');
  const sinceMs = parseTimeArgument(sinceText, '--since');
  rejectFutureTime(sinceMs, Date.now(), '--since', sinceText);
  const toleranceHours = flags.int('max-backup-hours') ?? 24;
  if (toleranceHours <= 0) throw new ResticError('USAGE', '--max-backup-hours must be positive');

  // The S3 modules (and through them the AWS SDK) load only when this command runs.
  const { auditHistory, checkSnapshotVersions, describeLockVersions } = await import('../../s3/audit.js');
  const { listVersionHistory, repositoryKeyPrefix, requireVersionedHistory } = await import('../../s3/version-history.js');
  const { requireS3Backend } = await import('../../s3/versioned-view.js');
  const backend = await ctx.openBackend();
  const s3 = requireS3Backend(backend, 'audit');
  const history = await listVersionHistory(s3, { signal: ctx.signal });
  await requireVersionedHistory(s3, history, 'an audit of changes');
  const base = auditHistory(history, sinceMs, repositoryKeyPrefix(s3));
  const report: AuditReport = { ...base, snapshots: [] };

  if (flags.boolean('no-snapshot-check')) report.snapshotCheckSkipped = 'disabled with --no-snapshot-check';
  else if (!report.events.some((e) => (e.type === 'snapshot' || e.type === 'lock') && (e.kind === 'added' || e.kind === 'overwritten' || e.kind === 'recreated'))) {
    // Nothing to decrypt: no snapshot or lock written since TIME.
  } else {
    let password: string | undefined;
    try {
      password = await ctx.readPassword('enter password for repository: ');
    } catch (err) {
      report.snapshotCheckSkipped = `no password (${(err as Error).message})`;
    }
    if (password !== undefined) {
      try {
        const key = await openMasterKey(backend, history, sinceMs, password, ctx);
        report.snapshots = await checkSnapshotVersions(s3, history, sinceMs, key, { toleranceMs: toleranceHours * 3600_000 });
        report.locks = await describeLockVersions(s3, history, sinceMs, key);
      } catch (err) {
        if (err instanceof ResticError && err.code === 'BACKEND_AUTH') throw err;
        report.snapshotCheckSkipped = `the repository key could not be opened: ${(err as Error).message}`;
      }
    }
  }
  const badSnapshots = report.snapshots.filter((f) => f.kind !== 'ok');
  report.suspiciousCount += badSnapshots.length;

  if (global.json) {
    out.jsonLine(
      JSON.stringify({
        message_type: 'audit',
        repository: s3.location,
        since: formatInstant(sinceMs),
        suspicious: report.suspiciousCount,
        counts: report.counts,
        events: report.events.map((e) => ({
          time: formatInstant(e.time),
          kind: e.kind,
          type: e.type,
          name: e.name,
          key: e.key,
          version_id: e.versionId,
          size: e.size,
          ...(e.suspicious ? { suspicious: e.suspicious } : {}),
        })),
        snapshots: report.snapshots.map((f) => ({
          name: f.name,
          version_id: f.versionId,
          written: formatInstant(f.written),
          ...(f.recorded ? { recorded: f.recorded } : {}),
          ...(f.hostname ? { hostname: f.hostname } : {}),
          finding: f.kind,
          ...(f.detail ? { detail: f.detail } : {}),
        })),
        locks: (report.locks ?? []).map((l) => ({
          name: l.name,
          version_id: l.versionId,
          written: formatInstant(l.written),
          present: l.present,
          ...(l.problem !== undefined
            ? { problem: l.problem }
            : { hostname: l.hostname, username: l.username, pid: l.pid, exclusive: l.exclusive, time: l.recorded }),
        })),
        ...(report.snapshotCheckSkipped ? { snapshot_check_skipped: report.snapshotCheckSkipped } : {}),
      }),
    );
    return;
  }

  out.print(`changes under ${s3.location} since ${formatInstant(sinceMs)}: ${report.events.length} events, ${report.suspiciousCount} suspicious`);
  const types = Object.keys(report.counts);
  if (types.length > 0) {
    const header = ['type', ...KINDS];
    const rows = types.map((t) => [t, ...KINDS.map((k) => String(report.counts[t][k] ?? 0))]);
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
    for (const r of [header, ...rows]) out.print('  ' + r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  '));
  }
  const suspicious = report.events.filter((e) => e.suspicious);
  if (suspicious.length > 0) {
    out.print(`\nsuspicious changes (${suspicious.length}):`);
    for (const e of suspicious) out.print(eventLine(e));
  }
  const keyEvents = report.events.filter((e) => e.type === 'key');
  if (keyEvents.length > 0) {
    out.print(`\nkey files (passwords):`);
    for (const e of keyEvents) out.print(eventLine(e));
  }
  const lockEvents = report.events.filter((e) => e.type === 'lock');
  if (lockEvents.length > 0) {
    out.print(`\nlocks:`);
    for (const e of lockEvents) out.print(eventLine(e));
  }
  if (report.locks && report.locks.length > 0) {
    out.print(`\nlock files written since then:`);
    for (const l of report.locks) {
      const who = l.problem !== undefined ? `unreadable: ${l.problem}` : `${l.exclusive ? 'exclusive' : 'shared'} lock by ${l.username}@${l.hostname} pid ${l.pid}, time ${l.recorded}`;
      out.print(`  ${l.name.slice(0, 8)}  written ${formatInstant(l.written)}  ${l.present ? 'still present' : 'removed since'}  ${who}`);
    }
  }
  if (report.snapshots.length > 0) {
    out.print(`\nsnapshots written since then (${badSnapshots.length} suspicious):`);
    for (const f of report.snapshots) out.print(findingLine(f));
  }
  if (report.snapshotCheckSkipped) out.print(`\nsnapshot times not checked: ${report.snapshotCheckSkipped}`);
  if (global.verbosity >= 1 && report.events.length > 0) {
    out.print(`\nall events:`);
    for (const e of report.events) out.print(eventLine(e));
  }
}

export const auditCommand: Command = {
  name: 'audit',
  summary: 'Show what changed in a repository in a versioned S3 bucket since a time',
  usage: 'audit --since TIME [--max-backup-hours N] [--no-snapshot-check]',
  flags: [
    { name: 'since', kind: 'string', valueName: 'time', description: 'report changes after this time: RFC 3339 or "YYYY-MM-DD HH:MM:SS" (local time)' },
    { name: 'max-backup-hours', kind: 'int', valueName: 'n', description: 'flag snapshots written more than this many hours after their recorded time (default 24)' },
    { name: 'no-snapshot-check', kind: 'boolean', description: 'do not decrypt snapshots to compare their recorded times (needs no password)' },
  ],
  help:
    'Lists, from the bucket\'s version history, every object added, overwritten, deleted or re-created under the ' +
    'repository prefix since TIME, flags what restic itself never does (overwrites, config changes, key changes, foreign ' +
    'objects), and checks that every snapshot written since TIME is a genuine restic file whose recorded time fits when it ' +
    'was written. See docs/securing-backups-on-s3.md.',
  run,
};
