/**
 * Space accounting on a versioned bucket (`stats --versions`): per file type, how many bytes
 * the current objects take and how many the non-current versions (deleted or overwritten
 * objects kept by versioning), plus the delete markers. This is what retention costs, and
 * what a prune really frees: its deletes move bytes from "current" to "non-current"; they
 * leave the bucket only when a lifecycle rule expires them (and their retention has lapsed).
 */
import { FILE_TYPES } from '../backend/backend.js';
import type { S3Backend } from '../backend/s3.js';
import { listVersionHistory, type VersionHistory } from './version-history.js';

export type SpaceFileType = (typeof FILE_TYPES)[number] | 'other';
export const SPACE_FILE_TYPES: readonly SpaceFileType[] = [...FILE_TYPES, 'other'];

export interface SpaceCounts {
  currentObjects: number;
  currentBytes: number;
  noncurrentVersions: number;
  noncurrentBytes: number;
  deleteMarkers: number;
}

export interface VersionedSpace {
  byType: Record<SpaceFileType, SpaceCounts>;
  total: SpaceCounts;
}

const zero = (): SpaceCounts => ({ currentObjects: 0, currentBytes: 0, noncurrentVersions: 0, noncurrentBytes: 0, deleteMarkers: 0 });

/** Sums a version history (pure; synthetic histories in tests). */
export function accountSpace(history: VersionHistory): VersionedSpace {
  const byType = Object.fromEntries(SPACE_FILE_TYPES.map((t) => [t, zero()])) as Record<SpaceFileType, SpaceCounts>;
  const total = zero();
  for (const k of history.keys) {
    const c = byType[k.file?.type ?? 'other'];
    k.events.forEach((e, i) => {
      const latest = i === k.events.length - 1;
      for (const s of [c, total]) {
        if (e.kind === 'delete-marker') s.deleteMarkers++;
        else if (latest) {
          s.currentObjects++;
          s.currentBytes += e.size;
        } else {
          s.noncurrentVersions++;
          s.noncurrentBytes += e.size;
        }
      }
    });
  }
  return { byType, total };
}

/** Lists every version under the repository prefix and sums it. */
export async function versionedSpace(s3: S3Backend, options: { pageSize?: number; signal?: AbortSignal } = {}): Promise<VersionedSpace> {
  return accountSpace(await listVersionHistory(s3, options));
}
