/**
 * restic-ts public API: re-exports only. Documented in docs/library.md (with runnable programs
 * in docs/examples/); test/unit/public-api.test.ts checks that every documented name is here.
 *
 *   import { openBackend, Repository } from 'restic-ts';
 *   const repo = await Repository.open({ backend: await openBackend('/srv/repo'), password });
 *   for (const { id, snapshot } of await repo.listSnapshots()) console.log(id, snapshot.time.toString());
 *
 * Internals (pack writer, blob saver, chunker, crypto primitives, index codecs, CLI helpers)
 * are deliberately not exported: their signatures may change between versions.
 */
export { ErrorCodes, ResticError, exitCodeFor, isResticError, type ErrorCode, type ResticErrorOptions } from './errors.js';
export { idFromBytes, idToBytes, isId, parseId, shortId, type Id } from './format/id.js';
export { GoTime, type WallClock } from './format/gotime.js';

// Storage
export { FILE_TYPES, relativePath, type Backend, type ByteRange, type FileInfo, type FileType } from './backend/backend.js';
export { innermostBackend, openBackend, type BackendOptions, type S3Options } from './backend/open.js';
export { parseLocation, type Location, type LocalLocation, type S3Location } from './backend/location.js';
export { LocalBackend } from './backend/local.js';
export { MemoryBackend } from './backend/memory.js';
export { S3Backend, type BucketLookup, type ObjectRetention, type RetentionMode, type S3BackendOptions, type StaticCredentials } from './backend/s3.js';

// Crypto and compression
export { cryptoImplementation, setCryptoImplementation, type MasterKey } from './crypto/index.js';
export { compressionImplementation, type CompressionMode } from './compression/index.js';
export { xattrSupport, type XattrSupport } from './platform/xattr.js';

// Format
export { type Config } from './format/config.js';
export { parseKeyFile, type KeyFile } from './format/key-file.js';
export { encodeTree, parseTree, type NodeType, type Tree, type TreeNode } from './format/node.js';
export { encodeSnapshot, parseSnapshot, snapshotToCliJson, type Snapshot, type SnapshotSummary } from './format/snapshot.js';
export {
  groupSnapshots,
  latestPerHostAndPaths,
  matchesFilter,
  parseGroupBy,
  snapshotsToCliJson,
  sortNewestFirst,
  sortOldestFirst,
  type GroupBy,
  type SnapshotFilter,
  type SnapshotGroup,
  type SnapshotGroupKey,
} from './format/snapshot-filter.js';
export { encodeLock, parseLock, type LockInfo } from './format/lock-file.js';
export { type BlobType, type PackedBlob } from './pack/header.js';
export { MasterIndex, type BlobLocation, type IndexEntry, type IndexLoadProgress } from './index/master-index.js';

// Repository
export {
  Repository,
  type FoundSnapshot,
  type ListSnapshotsOptions,
  type LoadIndexOptions,
  type OpenProgress,
  type RepositoryOpenOptions,
  type SnapshotEntry,
  type SnapshotListProgress,
  type UnpackedFileType,
} from './repository/repository.js';
export { initRepository, type InitOptions, type InitResult } from './repository/init.js';

// Walking, reading files, restoring
export { findNode, pathText, streamFileContent, walkTree, type StreamOptions, type TreeSource, type WalkEntry, type WalkOptions } from './restorer/walker.js';
export { dumpFile, dumpTreeAsTar, resolveDumpTarget, type ByteSink, type DumpTarget } from './restorer/dump.js';
export { restoreTree, type RestoreOptions, type RestoreProgress, type RestoreSummary } from './restorer/restore.js';
export { findInSnapshot, type FindMatch, type FindOptions } from './restorer/find.js';
export { computeStats, type StatsMode, type StatsOptions, type StatsResult } from './restorer/stats.js';

// Writing and maintenance
export {
  backup,
  backupStream,
  backupTree,
  type ArchiveRepository,
  type BackupItemError,
  type BackupProgress,
  type BackupResult,
  type BackupSummary,
  type CommonBackupOptions,
  type FileSystemBackupOptions,
  type StreamBackupOptions,
  type TreeBackupOptions,
  type VirtualEntry,
  type VirtualMeta,
} from './archiver/archiver.js';
export { prestartBlobWorkers } from './repository/blob-worker.js';
export { acquireLock, removeLocks, RepositoryLock, type LockOptions, type LockStore, type UnlockResult } from './repository/lock.js';
export { addKey, changePassword, findKeyId, removeKey, type AddKeyOptions } from './maintenance/keys.js';
export { forget, removeSnapshots, type ForgetGroupResult, type ForgetOptions, type ForgetResult, type IdentifiedSnapshot } from './maintenance/forget.js';
export { policyIsEmpty, type ExpirePolicy, type KeepReason } from './maintenance/forget-policy.js';
export { Duration, parseDuration } from './maintenance/duration.js';
export { DEFAULT_MAX_UNUSED, parseMaxUnused, parseSize, planPrune, type MaxUnused, type PruneOptions, type PrunePlan, type PrunePlanProgress } from './maintenance/prune.js';
export { applyPrunePlan, type ApplyPruneOptions, type PruneApplyResult, type PruneStep } from './maintenance/prune-apply.js';
export {
  checkRepository,
  parseReadDataSubset,
  type CheckFinding,
  type CheckOptions,
  type CheckPhase,
  type CheckProgress,
  type CheckResult,
  type FindingKind,
  type ReadDataSubset,
} from './maintenance/check.js';
export { tagSnapshots, type TagChange, type TagResult } from './maintenance/tag.js';
export { copySnapshots, type CopyEvent, type CopyOptions, type CopyResult } from './maintenance/copy.js';
export { diffTrees, type DiffChange, type DiffOptions, type DiffStat, type DiffStats } from './maintenance/diff.js';
export { repairIndex, type RepairIndexEvent, type RepairIndexOptions, type RepairIndexResult } from './maintenance/repair-index.js';
export { repairSnapshots, type RepairSnapshotsEvent, type RepairSnapshotsOptions, type RepairSnapshotsResult } from './maintenance/repair-snapshots.js';

// Versioned S3: point-in-time view, history, rollback, audit, bucket posture, retention, space
export { openAsOf, PointInTimeBackend, requireS3Backend, type AsOfOptions } from './s3/versioned-view.js';
export { formatInstant, parseTimeArgument } from './s3/time.js';
export {
  bucketVersioning,
  listVersionHistory,
  repositoryKeyPrefix,
  requireVersionedHistory,
  type KeyHistory,
  type ListHistoryOptions,
  type VersionEvent,
  type VersionHistory,
  type VersioningStatus,
} from './s3/version-history.js';
export {
  applyRollback,
  confirmByContent,
  planRollback,
  requireEnabledVersioning,
  type ApplyOptions as RollbackApplyOptions,
  type ApplyProgress as RollbackProgress,
  type ApplyResult as RollbackResult,
  type PlannedChange,
  type RollbackAction,
  type RollbackPlan,
} from './s3/rollback.js';
export {
  auditHistory,
  checkSnapshotVersions,
  type AuditEvent,
  type AuditEventKind,
  type AuditReport,
  type SnapshotCheckOptions,
  type SnapshotFinding,
  type SnapshotFindingKind,
} from './s3/audit.js';
export { doctorFailed, runDoctor, type DoctorOptions, type DoctorReport, type Finding as DoctorFinding, type Fix as DoctorFix, type Severity } from './s3/doctor.js';
export { buildPolicy, policyAllows, POLICY_ROLES, type PolicyDocument, type PolicyOptions, type PolicyRole, type PolicyStatement } from './s3/policy.js';
export {
  extendRetention,
  pruneRetentionSupport,
  referencedFiles,
  type ExtendRetentionOptions,
  type ExtendRetentionResult,
  type ExtendedFile,
  type PruneRetentionReport,
  type RepositoryFile,
} from './s3/retention.js';
export { versionedSpace, type SpaceCounts, type VersionedSpace } from './s3/space.js';
