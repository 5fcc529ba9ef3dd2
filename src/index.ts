/**
 * restic-ts public API: re-exports only. See docs/ for examples.
 *
 *   import { openBackend, Repository } from 'restic-ts';
 *   const repo = await Repository.open({ backend: await openBackend('/srv/repo'), password });
 *   for (const { id, snapshot } of await repo.listSnapshots()) console.log(id, snapshot.time.toString());
 */
export { ErrorCodes, ResticError, exitCodeFor, isResticError, type ErrorCode, type ResticErrorOptions } from './errors.js';
export { idFromBytes, idToBytes, isId, parseId, shortId, type Id } from './format/id.js';
export { GoTime, type WallClock } from './format/gotime.js';

// Storage
export { FILE_TYPES, relativePath, type Backend, type ByteRange, type FileInfo, type FileType } from './backend/backend.js';
export { openBackend, type BackendOptions, type S3Options } from './backend/open.js';
export { parseLocation, type Location, type LocalLocation, type S3Location } from './backend/location.js';
export { LocalBackend } from './backend/local.js';
export { MemoryBackend } from './backend/memory.js';
export { S3Backend } from './backend/s3.js';

// Crypto and compression
export { cryptoImplementation, setCryptoImplementation, type MasterKey } from './crypto/index.js';
export { compressionImplementation, type CompressionMode } from './compression/index.js';

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
  parseTagListFlags,
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
  DEFAULT_MAX_KEYS,
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
export { backup, backupStream, backupTree, type BackupProgress, type BackupResult, type BackupSummary } from './archiver/archiver.js';
export { acquireLock, lockStoreFor, removeLocks, type LockOptions } from './repository/lock.js';
export { addKey, changePassword, findKeyId, removeKey, type AddKeyOptions } from './maintenance/keys.js';
export { forget, removeSnapshots, type ForgetOptions, type ForgetResult } from './maintenance/forget.js';
export { planPrune, type PruneOptions, type PrunePlan } from './maintenance/prune.js';
export { applyPrunePlan, type ApplyPruneOptions, type PruneApplyResult } from './maintenance/prune-apply.js';
export { checkRepository, type CheckFinding, type CheckOptions, type CheckResult } from './maintenance/check.js';

// Versioned S3: point-in-time view
export { openAsOf, PointInTimeBackend, type AsOfOptions } from './s3/versioned-view.js';
