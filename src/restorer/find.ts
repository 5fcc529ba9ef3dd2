/**
 * restic 0.14's `find PATTERN…`: walks snapshots and reports nodes whose full path matches
 * one of restic's patterns (see filter.ts; `*.txt` matches at any depth, `/a/*` from the
 * root), optionally case-insensitively and within a modification-time window. Directories
 * are only entered when a pattern could match below them.
 */
import type { GoTime } from '../format/gotime.js';
import type { TreeNode } from '../format/node.js';
import type { Repository, SnapshotEntry } from '../repository/repository.js';
import { childMayMatch, matchPattern, parsePattern } from './filter.js';
import { walkTree } from './walker.js';

export interface FindOptions {
  ignoreCase?: boolean;
  /** Only nodes modified at or after this time. */
  oldest?: GoTime;
  /** Only nodes modified at or before this time. */
  newest?: GoTime;
}

export interface FindMatch {
  snapshot: SnapshotEntry;
  /** Path bytes inside the snapshot, `/dir/name`. */
  path: Uint8Array;
  node: TreeNode;
}

/** Matches in one snapshot, in walk order. */
export async function* findInSnapshot(repo: Repository, snapshot: SnapshotEntry, patterns: readonly string[], options: FindOptions = {}): AsyncGenerator<FindMatch> {
  const prepared = patterns.map((p) => parsePattern(options.ignoreCase ? p.toLowerCase() : p));
  const normalized = (path: Uint8Array): string => {
    const text = Buffer.from(path).toString('utf8');
    return options.ignoreCase ? text.toLowerCase() : text;
  };
  const root = snapshot.snapshot.tree;
  if (!root) return;
  const descend = (entry: { path: Uint8Array }): boolean => {
    const p = normalized(entry.path);
    return prepared.some((pat) => childMayMatch(pat, p));
  };
  for await (const entry of walkTree(repo, root, { descend })) {
    const p = normalized(entry.path);
    if (!prepared.some((pat) => matchPattern(pat, p))) continue;
    if (options.oldest && entry.node.mtime.isBefore(options.oldest)) continue;
    if (options.newest && entry.node.mtime.isAfter(options.newest)) continue;
    yield { snapshot, path: entry.path, node: entry.node };
  }
}
