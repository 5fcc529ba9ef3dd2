/**
 * The public API (src/index.ts) is small and documented: every name the docs import from
 * 'restic-ts' exists, the runtime exports are exactly the documented list (adding one means
 * documenting it here and in docs/library.md), and internals stay out.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import * as api from '../../src/index.js';
// Type-level check (tsc in `npm test`): the documented types are exported.
import type {
  AsOfOptions,
  AuditReport,
  Backend,
  BackupProgress,
  BackupResult,
  BackupSummary,
  CheckFinding,
  CheckOptions,
  CheckResult,
  CopyEvent,
  CopyResult,
  DiffChange,
  DiffStats,
  DoctorFinding,
  DoctorReport,
  ErrorCode,
  ExpirePolicy,
  FileSystemBackupOptions,
  ForgetOptions,
  ForgetResult,
  FoundSnapshot,
  Id,
  OpenProgress,
  PolicyDocument,
  PruneApplyResult,
  PrunePlan,
  RepositoryOpenOptions,
  RestoreOptions,
  RestoreProgress,
  RestoreSummary,
  RollbackPlan,
  RollbackProgress,
  RollbackResult,
  Snapshot,
  SnapshotEntry,
  SnapshotFilter,
  StreamBackupOptions,
  TagChange,
  Tree,
  TreeBackupOptions,
  TreeNode,
  VersionHistory,
  VersionedSpace,
  VirtualEntry,
  WalkEntry,
} from '../../src/index.js';

const root = resolve(import.meta.dirname, '..', '..');

/** Every runtime (non-type) export, by area. Keep in step with docs/library.md. */
const DOCUMENTED_VALUES: Record<string, string[]> = {
  errors: ['ErrorCodes', 'ResticError', 'exitCodeFor', 'isResticError'],
  ids_and_time: ['idFromBytes', 'idToBytes', 'isId', 'parseId', 'shortId', 'GoTime'],
  storage: ['FILE_TYPES', 'relativePath', 'openBackend', 'innermostBackend', 'parseLocation', 'LocalBackend', 'MemoryBackend', 'S3Backend'],
  implementations: ['cryptoImplementation', 'setCryptoImplementation', 'compressionImplementation', 'xattrSupport'],
  format: [
    'parseKeyFile',
    'encodeTree',
    'parseTree',
    'encodeSnapshot',
    'parseSnapshot',
    'snapshotToCliJson',
    'groupSnapshots',
    'latestPerHostAndPaths',
    'matchesFilter',
    'parseGroupBy',
    'snapshotsToCliJson',
    'sortNewestFirst',
    'sortOldestFirst',
    'encodeLock',
    'parseLock',
    'MasterIndex',
  ],
  repository: ['Repository', 'initRepository', 'acquireLock', 'removeLocks', 'RepositoryLock'],
  read: ['findNode', 'pathText', 'streamFileContent', 'walkTree', 'dumpFile', 'dumpTreeAsTar', 'resolveDumpTarget', 'restoreTree', 'findInSnapshot', 'computeStats'],
  write: ['backup', 'backupStream', 'backupTree', 'prestartBlobWorkers'],
  maintenance: [
    'addKey',
    'changePassword',
    'findKeyId',
    'removeKey',
    'forget',
    'removeSnapshots',
    'policyIsEmpty',
    'Duration',
    'parseDuration',
    'DEFAULT_MAX_UNUSED',
    'parseMaxUnused',
    'parseSize',
    'planPrune',
    'applyPrunePlan',
    'checkRepository',
    'parseReadDataSubset',
    'tagSnapshots',
    'copySnapshots',
    'diffTrees',
    'repairIndex',
    'repairSnapshots',
  ],
  versioned_s3: [
    'openAsOf',
    'PointInTimeBackend',
    'requireS3Backend',
    'formatInstant',
    'parseTimeArgument',
    'bucketVersioning',
    'listVersionHistory',
    'repositoryKeyPrefix',
    'requireVersionedHistory',
    'applyRollback',
    'confirmByContent',
    'planRollback',
    'requireEnabledVersioning',
    'auditHistory',
    'checkSnapshotVersions',
    'doctorFailed',
    'runDoctor',
    'buildPolicy',
    'policyAllows',
    'POLICY_ROLES',
    'extendRetention',
    'pruneRetentionSupport',
    'referencedFiles',
    'versionedSpace',
  ],
};

/** Names imported from 'restic-ts' in the code blocks of a Markdown file. */
function importedNames(markdownFile: string): string[] {
  const text = readFileSync(resolve(root, markdownFile), 'utf8');
  const names: string[] = [];
  for (const m of text.matchAll(/import\s*\{([^}]*)\}\s*from\s*'restic-ts'/g)) {
    for (const part of m[1].split(',')) {
      const name = part.trim().replace(/^type\s+/, '');
      if (name !== '') names.push(name);
    }
  }
  return names;
}

describe('public API (src/index.ts)', () => {
  it('exports exactly the documented runtime names', () => {
    const documented = Object.values(DOCUMENTED_VALUES).flat().sort();
    expect(new Set(documented).size).toBe(documented.length);
    expect(Object.keys(api).sort()).toEqual(documented);
  });

  it('every exported value is defined (no export of a missing binding)', () => {
    for (const [name, value] of Object.entries(api)) expect(value, name).toBeDefined();
  });

  it.each(['docs/library.md', 'README.md'])('every name %s imports from restic-ts is exported', (file) => {
    const names = importedNames(file);
    expect(names.length).toBeGreaterThan(file === 'README.md' ? 1 : 20);
    const missing = names.filter((n) => !(n in api) && !/\btype\b/.test(n));
    expect(missing).toEqual([]);
  });

  it('every function docs/library.md names in prose is exported', () => {
    const text = readFileSync(resolve(root, 'docs/library.md'), 'utf8');
    const called = new Set([...text.matchAll(/`([a-z][A-Za-z]+)\(/g)].map((m) => m[1]));
    const notApi = new Set(['loadTree', 'loadBlob', 'loadIndex', 'loadRaw', 'loadUnpacked', 'listSnapshots', 'listIds', 'findSnapshot', 'release', 'close']);
    const missing = [...called].filter((n) => !notApi.has(n) && !(n in api));
    expect(missing).toEqual([]);
  });

  it("README's library quick start is docs/examples/quick-start.ts (which the integration tests run)", () => {
    const readme = readFileSync(resolve(root, 'README.md'), 'utf8');
    const block = /## Library quick start\n\n```ts\n([\s\S]*?)```/.exec(readme)?.[1];
    expect(block).toBeDefined();
    const example = readFileSync(resolve(root, 'docs/examples/quick-start.ts'), 'utf8').replace(/^\/\*\*[\s\S]*?\*\/\n/, '');
    expect(example).toBe(block!.replaceAll("from 'restic-ts'", "from '../../src/index.js'"));
  });

  it('README begins with the two set-up commands', () => {
    const readme = readFileSync(resolve(root, 'README.md'), 'utf8');
    const firstBlock = /```sh\n([\s\S]*?)```/.exec(readme)?.[1] ?? '';
    const commands = firstBlock.split('\n').filter((l) => l !== '' && !l.startsWith('#'));
    expect(commands).toEqual([
      'npm ci && npx restic-ts snapshots -r fixtures/example-repo --password-file fixtures/example-repo.password',
      'bash .ci/run   # installs restic + Ceph (apt) if missing, npm ci, then the whole test suite: npm test',
    ]);
    expect(readFileSync(resolve(root, '.ci/run'), 'utf8')).toMatch(/^npm test <\/dev\/null$/m);
  });

  it('keeps internals out', () => {
    for (const internal of ['Packer', 'BlobSaver', 'chunkStream', 'chunkBuffer', 'seal', 'open', 'scrypt', 'compress', 'decompress', 'parseIndexFile', 'encodeIndexFile', 'RetryBackend', 'LimitBackend', 'main', 'parseTagListFlags', 'lockStoreFor']) {
      expect(internal in api, internal).toBe(false);
    }
  });

  it('the error codes and exit codes are the ones docs/errors.md lists', () => {
    const doc = readFileSync(resolve(root, 'docs/errors.md'), 'utf8');
    for (const code of Object.values(api.ErrorCodes)) {
      expect(doc, code).toMatch(new RegExp(`\\|\\s*\`${code}\`\\s*\\|\\s*${api.exitCodeFor(code)}\\s*\\|`));
    }
  });

  it('documented types are usable (compile-time; one value of each kind here)', () => {
    const filter: SnapshotFilter = { hosts: ['h'], tags: [['a', 'b']], paths: ['/x'] };
    const policy: ExpirePolicy = { last: 3, daily: 7, within: api.parseDuration('1y2m') };
    const entry: VirtualEntry = { type: 'dir', entries: { f: { type: 'file', content: 'x' } } };
    const code: ErrorCode = 'WRONG_PASSWORD';
    expect(api.exitCodeFor(code)).toBe(12);
    expect(filter.hosts).toEqual(['h']);
    expect(policy.last).toBe(3);
    expect(entry.type).toBe('dir');
    // Referenced so the type-only import list above stays checked by tsc.
    type _Used = [AsOfOptions, AuditReport, Backend, BackupProgress, BackupResult, BackupSummary, CheckFinding, CheckOptions, CheckResult, CopyEvent, CopyResult, DiffChange, DiffStats, DoctorFinding, DoctorReport, FileSystemBackupOptions, ForgetOptions, ForgetResult, FoundSnapshot, Id, OpenProgress, PolicyDocument, PruneApplyResult, PrunePlan, RepositoryOpenOptions, RestoreOptions, RestoreProgress, RestoreSummary, RollbackPlan, RollbackProgress, RollbackResult, Snapshot, SnapshotEntry, StreamBackupOptions, TagChange, Tree, TreeBackupOptions, TreeNode, VersionHistory, VersionedSpace, WalkEntry];
  });
});
