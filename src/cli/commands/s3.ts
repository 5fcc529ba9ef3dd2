/**
 * `s3 doctor | policy | retention extend`: the bucket-posture commands of issue 5.
 *
 * - `s3 doctor [--recovery-window DAYS] [--no-probe] [--no-settings-probe]`: settings and
 *   a canary probe (src/s3/doctor.ts). Exit code 29 (CHECK_FAILED) when a finding is high.
 * - `s3 policy --role backup|maintenance|admin [--bucket B] [--prefix P] [--allow-retention]
 *   [--principal ARN…]`: IAM policy JSON (src/s3/policy.ts); bucket and prefix default to
 *   the ones of `-r` when it names an S3 repository.
 * - `s3 retention extend --days N [--min-remaining D] [--mode M] [--dry-run]`: extends the
 *   object-lock retention of everything a snapshot still needs (src/s3/retention.ts).
 *
 * Also the prune hook: `pruneObjectLock` (used by prune / forget --prune on object-locked
 * buckets) keeps locked packs out of repacking and prints what stays stored until when.
 */
import type { Backend } from '../../backend/backend.js';
import { innermostBackend } from '../../backend/open.js';
import { S3Backend, type RetentionMode } from '../../backend/s3.js';
import { ResticError, exitCodeFor } from '../../errors.js';
import type { Id } from '../../format/id.js';
import type { PrunePlan } from '../../maintenance/prune.js';
import type { Repository } from '../../repository/repository.js';
import { doctorFailed, runDoctor, type DoctorReport, type Severity } from '../../s3/doctor.js';
import { buildPolicy, type PolicyRole } from '../../s3/policy.js';
import { extendRetention, pruneRetentionSupport, type PruneRetentionReport } from '../../s3/retention.js';
import type { Command, CommandContext } from '../command.js';
import { formatBytes } from '../output.js';

async function s3BackendOf(ctx: CommandContext, what: string): Promise<S3Backend> {
  const backend = innermostBackend(await ctx.openBackend());
  if (!(backend instanceof S3Backend)) {
    throw new ResticError('USAGE', `${what} needs an S3 repository (-r s3:host/bucket/prefix); ${backend.location} is not one`);
  }
  return backend;
}

function positiveInt(ctx: CommandContext, flag: string): number | undefined {
  const v = ctx.flags.int(flag);
  if (v === undefined) return undefined;
  if (!Number.isInteger(v) || v < 0) throw new ResticError('USAGE', `invalid --${flag} ${v}: want a whole number of days`);
  return v;
}

// ---------------------------------------------------------------------------------------------
// s3 doctor

const MARK: Record<Severity, string> = { high: 'HIGH  ', medium: 'MEDIUM', low: 'LOW   ', info: 'INFO  ', ok: 'OK    ' };

async function doctor(ctx: CommandContext): Promise<number> {
  const s3 = await s3BackendOf(ctx, 's3 doctor');
  const window = positiveInt(ctx, 'recovery-window');
  const report = await runDoctor(s3, {
    ...(window !== undefined ? { recoveryWindowDays: window } : {}),
    noProbe: ctx.flags.boolean('no-probe'),
    noSettingsProbe: ctx.flags.boolean('no-settings-probe'),
  });
  if (ctx.global.json) ctx.out.jsonLine(JSON.stringify(report));
  else printDoctor(ctx, report);
  return doctorFailed(report) ? exitCodeFor('CHECK_FAILED') : 0;
}

function printDoctor(ctx: CommandContext, r: DoctorReport): void {
  const { out } = ctx;
  out.print(`bucket ${r.bucket}${r.prefix ? `, prefix ${r.prefix}` : ''} at ${r.endpoint}`);
  const lock = r.objectLock.enabled === true ? `enabled${r.objectLock.defaultDays !== undefined ? `, default ${r.objectLock.defaultMode} ${r.objectLock.defaultDays} days` : ', no default retention'}` : r.objectLock.enabled === false ? 'off' : 'unknown';
  out.print(`versioning: ${r.versioning}; object lock: ${lock}; lifecycle: ${r.lifecycle.readable ? `${r.lifecycle.rules} rule(s) for the repository${r.lifecycle.noncurrentDays !== undefined ? `, non-current versions expire after ${r.lifecycle.noncurrentDays} days` : ''}` : 'unreadable'}`);
  if (r.probe) out.print(`canary: ${r.probe.canaryKey}`);
  out.print('');
  const order: Severity[] = ['high', 'medium', 'low', 'info', 'ok'];
  for (const sev of order) {
    for (const f of r.findings.filter((x) => x.severity === sev)) {
      out.print(`${MARK[f.severity]} ${f.title}`);
      if (f.detail && (f.severity !== 'ok' || ctx.global.verbosity > 0)) out.print(`       ${f.detail}`);
      if (f.fix) {
        out.print(`       fix: ${f.fix.description}`);
        if (f.fix.command) out.print(`         ${f.fix.command}`);
      }
    }
  }
  const high = r.findings.filter((f) => f.severity === 'high').length;
  out.print('');
  out.print(high > 0 ? `${high} high-severity finding(s): the backups are not safe from these credentials` : 'no high-severity findings');
}

// ---------------------------------------------------------------------------------------------
// s3 policy

async function policy(ctx: CommandContext): Promise<void> {
  const role = ctx.flags.string('role');
  if (role === undefined) throw new ResticError('USAGE', 's3 policy needs --role backup, maintenance or admin');
  let bucket = ctx.flags.string('bucket');
  let prefix = ctx.flags.string('prefix');
  if (bucket === undefined) {
    if (ctx.global.repository === undefined) throw new ResticError('USAGE', 's3 policy needs --bucket (or -r with an S3 repository)');
    const { parseLocation } = await import('../../backend/location.js');
    const loc = parseLocation(ctx.global.repository);
    if (loc.scheme !== 's3') throw new ResticError('USAGE', `s3 policy needs --bucket: ${ctx.global.repository} is not an S3 repository`);
    bucket = loc.bucket;
    prefix ??= loc.prefix;
  }
  const principals = ctx.flags.strings('principal');
  const doc = buildPolicy({
    bucket,
    role: role as PolicyRole,
    ...(prefix !== undefined ? { prefix } : {}),
    retention: ctx.flags.boolean('allow-retention'),
    ...(principals.length > 0 ? { principals } : {}),
  });
  ctx.out.print(JSON.stringify(doc, null, 2));
}

// ---------------------------------------------------------------------------------------------
// s3 retention extend

async function retentionExtend(ctx: CommandContext): Promise<void> {
  const days = positiveInt(ctx, 'days');
  if (days === undefined || days < 1) throw new ResticError('USAGE', 's3 retention extend needs --days N (1 or more)');
  const minRemaining = positiveInt(ctx, 'min-remaining');
  const modeText = ctx.flags.string('mode');
  let mode: RetentionMode | undefined;
  if (modeText !== undefined) {
    const m = modeText.toUpperCase();
    if (m !== 'GOVERNANCE' && m !== 'COMPLIANCE') throw new ResticError('USAGE', `invalid --mode ${JSON.stringify(modeText)}: want GOVERNANCE or COMPLIANCE`);
    mode = m;
  }
  const dryRun = ctx.flags.boolean('dry-run');
  const s3 = await s3BackendOf(ctx, 's3 retention extend');
  const repo = await ctx.openRepository({ lock: 'shared' });
  const line = ctx.out.progress();
  const result = await extendRetention(repo, s3, {
    days,
    ...(minRemaining !== undefined ? { minRemainingDays: minRemaining } : {}),
    ...(mode ? { mode } : {}),
    dryRun,
    onProgress: (done, total) => line.update(`checked ${done}/${total} objects`, done === total),
  });
  line.done();
  if (ctx.global.json) {
    const files = result.files.map((f) => ({
      type: f.type,
      name: f.name,
      size: f.size,
      action: f.action,
      ...(f.mode ? { mode: f.mode } : {}),
      ...(f.before !== undefined ? { before: new Date(f.before).toISOString() } : {}),
      ...(f.after !== undefined ? { after: new Date(f.after).toISOString() } : {}),
    }));
    ctx.out.jsonLine(
      JSON.stringify({
        dry_run: result.dryRun,
        target: new Date(result.target).toISOString(),
        threshold: new Date(result.threshold).toISOString(),
        counts: result.counts,
        earliest_after: result.earliestAfter !== undefined ? new Date(result.earliestAfter).toISOString() : null,
        head_requests: result.headRequests,
        files,
      }),
    );
    return;
  }
  const verb = dryRun ? 'would extend' : 'extended';
  ctx.out.print(`retention target ${new Date(result.target).toISOString()} (objects retained past ${new Date(result.threshold).toISOString()} are left alone)`);
  for (const [type, c] of Object.entries(result.counts)) {
    ctx.out.print(`  ${type.padEnd(8)} ${verb} ${c.extend} (${formatBytes(c.bytes)}), skipped ${c.skip}${c.missing ? `, missing ${c.missing}` : ''}`);
  }
  if (ctx.global.verbosity > 0) {
    for (const f of result.files.filter((x) => x.action === 'extend')) {
      ctx.out.print(`  ${verb} ${f.type}/${f.name}: ${f.before !== undefined ? new Date(f.before).toISOString() : 'none'} -> ${new Date(f.after!).toISOString()} ${f.mode}`);
    }
  }
  if (result.earliestAfter !== undefined) ctx.out.print(`every needed object is now retained until at least ${new Date(result.earliestAfter).toISOString()}`);
}

// ---------------------------------------------------------------------------------------------
// prune on object-locked buckets (called from the prune command)

/**
 * Object-lock support for prune: undefined unless the repository is in an S3 bucket with
 * object lock. `lockedPacks` goes into PruneOptions; `print` reports after the statistics.
 */
export async function pruneObjectLock(
  ctx: CommandContext,
  backend: Backend,
): Promise<{ lockedPacks: (candidates: readonly Id[]) => Promise<ReadonlySet<Id>>; print: (repo: Repository, plan: PrunePlan) => Promise<PruneRetentionReport> } | undefined> {
  const s3 = innermostBackend(backend);
  if (!(s3 instanceof S3Backend)) return undefined;
  const support = await pruneRetentionSupport(s3);
  if (!support) return undefined;
  return {
    lockedPacks: support.lockedPacks,
    print: async (repo, plan) => {
      const report = await support.report(repo, plan);
      const { out } = ctx;
      if (report.lockedNotRepacked.length > 0) {
        const bytes = report.lockedNotRepacked.reduce((a, f) => a + f.size, 0);
        out.info(`object lock: ${report.lockedNotRepacked.length} partly used packs (${formatBytes(bytes)}) are locked and kept instead of repacked (repacking would store the data twice until the lock lapses)`);
      }
      if (report.retained.length > 0) {
        out.info(
          `object lock: ${report.retained.length} files to delete (${formatBytes(report.retainedBytes)}) are locked until ${new Date(report.lastLapse!).toISOString()} at the latest: ` +
            'deleting them adds delete markers now; their space is freed only when their retention lapses and a lifecycle rule expires non-current versions',
        );
      }
      return report;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// stats --versions (called from the stats command)

/** `stats --versions`: current vs non-current bytes per file type, from the version listing. */
export async function statsVersions(ctx: CommandContext): Promise<void> {
  if (ctx.positionals.length > 0) throw new ResticError('USAGE', 'stats --versions takes no snapshot arguments: it counts every object version under the repository prefix');
  const s3 = await s3BackendOf(ctx, 'stats --versions');
  const { versionedSpace, SPACE_FILE_TYPES } = await import('../../s3/space.js');
  const space = await versionedSpace(s3, { signal: ctx.signal });
  if (ctx.global.json) {
    const row = (c: (typeof space)['total']) => ({
      current_objects: c.currentObjects,
      current_bytes: c.currentBytes,
      noncurrent_versions: c.noncurrentVersions,
      noncurrent_bytes: c.noncurrentBytes,
      delete_markers: c.deleteMarkers,
    });
    const byType: Record<string, ReturnType<typeof row>> = {};
    for (const t of SPACE_FILE_TYPES) byType[t] = row(space.byType[t]);
    ctx.out.jsonLine(JSON.stringify({ by_type: byType, total: row(space.total) }));
    return;
  }
  const header = `${'type'.padEnd(9)} ${'current'.padStart(8)} ${'bytes'.padStart(12)}   ${'non-current'.padStart(11)} ${'bytes'.padStart(12)}   ${'delete markers'.padStart(14)}`;
  ctx.out.print(`Object versions under ${s3.prefix === '' ? 'the bucket root' : s3.prefix + '/'} in bucket ${s3.bucket}:`);
  ctx.out.print(header);
  const line = (name: string, c: (typeof space)['total']) =>
    ctx.out.print(`${name.padEnd(9)} ${String(c.currentObjects).padStart(8)} ${formatBytes(c.currentBytes).padStart(12)}   ${String(c.noncurrentVersions).padStart(11)} ${formatBytes(c.noncurrentBytes).padStart(12)}   ${String(c.deleteMarkers).padStart(14)}`);
  for (const t of SPACE_FILE_TYPES) {
    const c = space.byType[t];
    if (c.currentObjects + c.noncurrentVersions + c.deleteMarkers > 0) line(t, c);
  }
  line('total', space.total);
  ctx.out.print('Non-current versions are what versioning keeps for recovery; they leave the bucket only when a lifecycle rule expires them (and any retention has lapsed).');
}

// ---------------------------------------------------------------------------------------------

export const s3Command: Command = {
  name: 's3',
  summary: 'Check and secure the S3 bucket of a repository (doctor, policy, retention)',
  usage: 's3 doctor|policy|retention extend [flags]',
  help: `Subcommands:
  s3 doctor [--recovery-window DAYS] [--no-probe] [--no-settings-probe]
      Inspect the bucket of -r (versioning, object lock, lifecycle) and prove what the
      credentials can do with a canary object. Exit code 29 when a finding is high.
  s3 policy --role backup|maintenance|admin [--bucket B] [--prefix P] [--allow-retention] [--principal ARN ...]
      Print a least-privilege IAM policy (a bucket policy with --principal).
  s3 retention extend --days N [--min-remaining DAYS] [--mode GOVERNANCE|COMPLIANCE] [--dry-run]
      Extend the object-lock retention of every object a snapshot still needs to now + N days
      (objects with more than --min-remaining days left, default N/2, are left alone).
See docs/securing-backups-on-s3.md.`,
  flags: [
    { name: 'recovery-window', kind: 'int', valueName: 'days', description: 'doctor: days within which an attack must still be recoverable' },
    { name: 'no-probe', kind: 'boolean', description: 'doctor: read the settings only, write no canary object' },
    { name: 'no-settings-probe', kind: 'boolean', description: 'doctor: do not re-apply the versioning status to test the permission' },
    { name: 'role', kind: 'string', valueName: 'role', description: 'policy: backup, maintenance or admin' },
    { name: 'bucket', kind: 'string', valueName: 'bucket', description: 'policy: bucket name (default: the bucket of -r)' },
    { name: 'prefix', kind: 'string', valueName: 'prefix', description: 'policy: repository prefix in the bucket (default: the prefix of -r)' },
    { name: 'allow-retention', kind: 'boolean', description: 'policy: let the backup role set retention (for restic-ts --retention)' },
    { name: 'principal', kind: 'strings', valueName: 'arn', description: 'policy: make a bucket policy for this principal (repeatable)' },
    { name: 'days', kind: 'int', valueName: 'n', description: 'retention extend: retain until now + n days' },
    { name: 'min-remaining', kind: 'int', valueName: 'days', description: 'retention extend: leave objects retained at least this many more days (default days/2)' },
    { name: 'mode', kind: 'string', valueName: 'mode', description: 'retention extend: mode for objects without retention (default: the bucket default, else GOVERNANCE)' },
    { name: 'dry-run', short: 'n', kind: 'boolean', description: 'retention extend: change nothing, report what would be done' },
  ],
  async run(ctx) {
    const [sub, arg, ...rest] = ctx.positionals;
    if (sub === 'doctor' && arg === undefined) return doctor(ctx);
    if (sub === 'policy' && arg === undefined) return policy(ctx);
    if (sub === 'retention' && arg === 'extend' && rest.length === 0) return retentionExtend(ctx);
    throw new ResticError('USAGE', 's3: want one of "doctor", "policy", "retention extend" (see restic-ts s3 --help)');
  },
};
