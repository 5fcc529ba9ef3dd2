/**
 * `check [--read-data | --read-data-subset n/t|x%|size]`: restic 0.14's checker output —
 * phase lines and hints on stdout, errors on stderr, then `no errors were found` or
 * `Fatal: repository contains errors` (exit code of CHECK_FAILED). Takes an exclusive lock,
 * as restic 0.14 does (`create exclusive lock for repository`).
 *
 * `--json` (restic 0.14's check has none; this shape is ours) prints one document at the end:
 * `{"message_type":"summary","ok":bool,"num_errors":n,"num_hints":n,"snapshots":n,"trees":n,
 *   "packs_read":n,"errors":[Finding],"hints":[Finding]}` where a Finding is
 * `{"kind":…,"message":…,"file"?:…,"tree_id"?:…,"pack_id"?:…,"blob_id"?:…,"index_ids"?:[…]}`.
 */
import { ResticError } from '../../errors.js';
import { shortId } from '../../format/id.js';
import { checkRepository, parseReadDataSubset, type CheckFinding, type ReadDataSubset } from '../../maintenance/check.js';
import type { Command, CommandContext } from '../command.js';

function findingJson(f: CheckFinding): Record<string, unknown> {
  const o: Record<string, unknown> = { kind: f.kind, message: f.message };
  if (f.file !== undefined) o.file = f.file;
  if (f.treeId !== undefined) o.tree_id = f.treeId;
  if (f.packId !== undefined) o.pack_id = f.packId;
  if (f.blobId !== undefined) o.blob_id = f.blobId;
  if (f.indexIds !== undefined) o.index_ids = f.indexIds;
  return o;
}

async function run(ctx: CommandContext): Promise<void> {
  const { out } = ctx;
  let readData: ReadDataSubset | undefined;
  const subsetText = ctx.flags.string('read-data-subset');
  if (ctx.flags.boolean('read-data') && subsetText !== undefined) {
    throw new ResticError('USAGE', 'check flags --read-data and --read-data-subset cannot be used together');
  }
  if (ctx.flags.boolean('read-data')) readData = { kind: 'all' };
  else if (subsetText !== undefined) readData = parseReadDataSubset(subsetText);
  if (ctx.positionals.length > 0) throw new ResticError('USAGE', 'the check command expects no arguments, only options - please see `restic help check` for usage and flags');

  if (!ctx.global.noLock) out.info('create exclusive lock for repository');
  const repo = await ctx.openRepository({ lock: 'exclusive' });

  const json = ctx.global.json;
  let severalIndexes = 0;
  let mixed = 0;
  let unreferenced = 0;
  let lastTree: string | undefined;
  const flushHints = (): void => {
    if (severalIndexes > 0) out.info("This is non-critical, you can run `restic rebuild-index' to correct this");
    if (mixed > 0) out.info('Mixed packs with tree and data blobs are non-critical, you can run `restic prune` to correct this.');
    if (unreferenced > 0) {
      out.info(`${unreferenced} additional files were found in the repo, which likely contain duplicate data.`);
      out.info('This is non-critical, you can run `restic prune` to correct this.');
    }
    severalIndexes = mixed = unreferenced = 0;
  };
  const onFinding = (f: CheckFinding): void => {
    if (json) return;
    if (f.severity === 'hint') {
      if (f.kind === 'pack-in-several-indexes') severalIndexes++;
      if (f.kind === 'mixed-pack') mixed++;
      if (f.kind === 'pack-unreferenced') unreferenced++;
      out.info(f.message);
      return;
    }
    if (f.kind === 'tree-damaged' || (f.kind === 'node-invalid' && f.treeId !== undefined)) {
      const tree = f.treeId as string;
      if (tree !== lastTree) out.warn(`error for tree ${shortId(tree)}:`);
      lastTree = tree;
      out.warn(`  ${f.message}`);
      return;
    }
    lastTree = undefined;
    if (f.kind === 'snapshot-damaged' || f.kind === 'index-damaged') out.warn(`error: ${f.message}`);
    else out.warn(f.message);
  };

  // a progress line on terminals only (restic's "[0:00] 100.00%  1 / 1 snapshots")
  const progress = out.progress();
  const units = { 'load-indexes': 'index files', 'check-packs': 'packs', 'check-snapshots': 'snapshots', 'read-data': 'packs' } as const;
  const result = await checkRepository(repo, {
    ...(readData ? { readData } : {}),
    onFinding: (f) => {
      progress.done();
      onFinding(f);
    },
    onProgress: (p) => progress.update(`${p.total > 0 ? ((100 * p.done) / p.total).toFixed(2) : '100.00'}%  ${p.done} / ${p.total} ${units[p.phase]}`),
    onPhase: (phase) => {
      progress.done();
      if (phase !== 'load-indexes') flushHints();
      if (phase === 'load-indexes') out.info('load indexes');
      else if (phase === 'check-packs') out.info('check all packs');
      else if (phase === 'check-snapshots') out.info('check snapshots, trees and blobs');
    },
    onReadDataSelection: (sel) => {
      out.info('');
      if (!readData || readData.kind === 'all') out.info('read all data');
      else if (readData.kind === 'part') {
        out.info(`read group #${readData.n} of ${sel.selected} data packs (out of total ${sel.total} packs in ${readData.t} groups)`);
      } else if (readData.kind === 'percent') out.info(`read ${readData.percent.toFixed(1)}% of data packs`);
      else out.info(`read ${sel.bytes} bytes of data packs`);
    },
  });
  progress.done();
  flushHints();

  if (json) {
    const errors = result.findings.filter((f) => f.severity === 'error').map(findingJson);
    const hints = result.findings.filter((f) => f.severity === 'hint').map(findingJson);
    out.jsonLine(
      JSON.stringify({
        message_type: 'summary',
        ok: result.errors === 0,
        num_errors: result.errors,
        num_hints: result.hints,
        snapshots: result.snapshots,
        trees: result.trees,
        packs_read: result.packsRead,
        errors,
        hints,
      }),
    );
  }
  if (result.aborted) throw new ResticError('CHECK_FAILED', 'LoadIndex returned errors');
  if (result.errors > 0) throw new ResticError('CHECK_FAILED', 'repository contains errors');
  out.info('');
  out.info('no errors were found');
}

export const checkCommand: Command = {
  name: 'check',
  summary: 'Check the repository for errors',
  usage: 'check [flags]',
  flags: [
    { name: 'read-data', kind: 'boolean', description: 'read all data blobs' },
    {
      name: 'read-data-subset',
      kind: 'string',
      valueName: 'subset',
      description:
        "read a subset of data packs, specified as 'n/t' for specific part, or either 'x%' or 'x.y%' or a size in bytes with suffixes k/K, m/M, g/G, t/T for a random subset",
    },
    { name: 'with-cache', kind: 'boolean', description: 'use the cache (restic-ts has no cache; accepted for compatibility)' },
    { name: 'check-unused', kind: 'boolean', description: 'deprecated, ignored', hidden: true },
  ],
  help: 'The "check" command tests the repository for errors and reports any errors it finds.',
  run,
};
