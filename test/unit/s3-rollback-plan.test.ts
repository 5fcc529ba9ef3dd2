/**
 * The rollback planner on synthetic version histories: every case of (state at TIME,
 * current state), lock handling, totals, apply order, and idempotence (a history in which
 * the plan was applied plans nothing).
 */
import { describe, expect, it } from 'vitest';
import type { FileType } from '../../src/backend/backend.js';
import { applyOrder, isMultipartEtag, planRollback, type PlannedChange } from '../../src/s3/rollback.js';
import { buildHistory, type RawListing, type VersionHistory } from '../../src/s3/version-history.js';

const ID = (c: string) => c.repeat(64);
const TYPE_OF: Record<string, FileType> = { data: 'pack', snapshots: 'snapshot', index: 'index', keys: 'key', locks: 'lock' };

function keyToFile(key: string): { type: FileType; name: string } | undefined {
  const rel = key.slice('repo/'.length);
  if (rel === 'config') return { type: 'config', name: 'config' };
  const parts = rel.split('/');
  const type = TYPE_OF[parts[0]];
  return type ? { type, name: parts[parts.length - 1] } : undefined;
}

type Ev = ['v', number, string, number?] | ['d', number];

/** `events` oldest first: ['v', time, etag, size] or ['d', time]. */
function history(spec: Record<string, Ev[]>): VersionHistory {
  const raw: RawListing = { versions: [], deleteMarkers: [] };
  for (const [key, events] of Object.entries(spec)) {
    // The listing gives each array newest first.
    const newestFirst = [...events].reverse();
    newestFirst.forEach((e, i) => {
      const isLatest = i === 0;
      if (e[0] === 'v') raw.versions.push({ key, versionId: `${key}@${e[1]}`, time: e[1], isLatest, etag: `"${e[2]}"`, size: e[3] ?? 100 });
      else raw.deleteMarkers.push({ key, versionId: `${key}@${e[1]}`, time: e[1], isLatest });
    });
  }
  return buildHistory(raw, keyToFile);
}

const T = 10_000;
const action = (changes: PlannedChange[], key: string) => changes.find((c) => c.key === key)?.action;

describe('planRollback', () => {
  const pack = `repo/data/aa/${ID('a')}`;
  const snap = `repo/snapshots/${ID('b')}`;
  const idx = `repo/index/${ID('c')}`;
  const newPack = `repo/data/dd/${ID('d')}`;
  const gone = `repo/keys/${ID('e')}`;

  it('covers every case: unchanged, overwritten, deleted, added, added-and-deleted, deleted before TIME', () => {
    const h = history({
      'repo/config': [['v', 1000, 'cfg', 155], ['v', 12_000, 'garbage', 20]],
      [pack]: [['v', 2000, 'p1', 5000], ['d', 13_000]],
      [snap]: [['v', 3000, 's1', 300]],
      [idx]: [['v', 3000, 'i1'], ['v', 11_000, 'evil'], ['d', 14_000]],
      [newPack]: [['v', 11_000, 'x', 700]],
      [`repo/data/ff/${ID('f')}`]: [['v', 11_000, 'y'], ['d', 12_000]],
      [gone]: [['v', 1000, 'k'], ['d', 5000]],
      'repo/README.txt': [['v', 12_500, 'ransom', 10]],
    });
    const plan = planRollback(h, T, 'repo/');
    expect(action(plan.changes, 'repo/config')).toBe('restore-overwritten');
    expect(action(plan.changes, pack)).toBe('restore-deleted');
    expect(action(plan.changes, snap)).toBeUndefined();
    expect(action(plan.changes, idx)).toBe('restore-deleted');
    expect(action(plan.changes, newPack)).toBe('remove-added');
    expect(action(plan.changes, `repo/data/ff/${ID('f')}`)).toBeUndefined();
    expect(action(plan.changes, gone)).toBeUndefined();
    expect(plan.changes.find((c) => c.key === 'repo/README.txt')).toMatchObject({ action: 'remove-added', type: 'other', name: 'README.txt' });
    expect(plan.unchanged).toBe(3);
    const cfg = plan.changes.find((c) => c.key === 'repo/config')!;
    expect(cfg.source?.versionId).toBe('repo/config@1000');
    expect(cfg.bytes).toBe(155);
    expect(plan.totals.config).toEqual({ restore: 1, restoreBytes: 155, remove: 0, removeBytes: 0 });
    expect(plan.totals.pack).toEqual({ restore: 1, restoreBytes: 5000, remove: 1, removeBytes: 700 });
    expect(plan.totals.other).toEqual({ restore: 0, restoreBytes: 0, remove: 1, removeBytes: 10 });
  });

  it('an identical re-upload (same ETag and size) is no change; a same-size different ETag is', () => {
    const h = history({
      'repo/config': [['v', 1000, 'cfg', 155], ['v', 12_000, 'cfg', 155]],
      [pack]: [['v', 1000, 'p1', 155], ['v', 12_000, 'p2', 155]],
    });
    const plan = planRollback(h, T, 'repo/');
    expect(plan.changes.map((c) => c.key)).toEqual([pack]);
  });

  it('a same-size pair where one ETag is multipart-form is marked for a content check (copies change the ETag form)', () => {
    const h = history({
      [pack]: [['v', 1000, '0123456789abcdef0123456789abcdef-2', 9000], ['v', 12_000, 'fedcba9876543210fedcba9876543210', 9000]],
      [idx]: [['v', 1000, '0123456789abcdef0123456789abcdef-2', 9000], ['v', 12_000, 'fedcba9876543210fedcba9876543210', 8000]],
      'repo/config': [['v', 1000, '0123456789abcdef0123456789abcdef-2', 9000], ['v', 12_000, 'fedcba9876543210fedcba9876543210', 9000]],
    });
    const plan = planRollback(h, T, 'repo/');
    expect(plan.changes.find((c) => c.key === pack)?.needsContentCheck).toBe(true);
    expect(plan.changes.find((c) => c.key === idx)?.needsContentCheck).toBeUndefined(); // sizes differ: surely changed
    expect(plan.changes.find((c) => c.key === 'repo/config')?.needsContentCheck).toBeUndefined(); // not named by its hash
    expect(isMultipartEtag('"0123456789abcdef0123456789abcdef-12"')).toBe(true);
    expect(isMultipartEtag('"0123456789abcdef0123456789abcdef"')).toBe(false);
  });

  it('is idempotent: after the plan is applied (copies and delete markers added), it plans nothing', () => {
    const h = history({
      'repo/config': [['v', 1000, 'cfg', 155], ['v', 12_000, 'garbage', 20], ['v', 20_000, 'cfg', 155]],
      [pack]: [['v', 2000, 'p1', 5000], ['d', 13_000], ['v', 20_000, 'p1', 5000]],
      [newPack]: [['v', 11_000, 'x', 700], ['d', 20_000]],
    });
    expect(planRollback(h, T, 'repo/').changes).toEqual([]);
  });

  it('never restores a lock; removes locks present now unless unchanged since TIME; reports locks written after TIME', () => {
    const oldLock = `repo/locks/${ID('1')}`;
    const keptLock = `repo/locks/${ID('2')}`;
    const newLock = `repo/locks/${ID('3')}`;
    const h = history({
      [oldLock]: [['v', 1000, 'l1'], ['d', 11_000]],
      [keptLock]: [['v', 1000, 'l2']],
      [newLock]: [['v', 11_000, 'l3']],
    });
    const plan = planRollback(h, T, 'repo/');
    expect(action(plan.changes, oldLock)).toBeUndefined();
    expect(action(plan.changes, keptLock)).toBeUndefined();
    expect(action(plan.changes, newLock)).toBe('remove-added');
    expect(plan.blockingLocks.map((l) => l.key)).toEqual([newLock]);
  });

  it('an event exactly at TIME counts as before it', () => {
    const h = history({ [newPack]: [['v', T, 'x']] });
    expect(planRollback(h, T, 'repo/').changes).toEqual([]);
    expect(planRollback(h, T - 1, 'repo/').changes.map((c) => c.action)).toEqual(['remove-added']);
  });

  it('applies restores first (packs before index before config before snapshots), then removals from snapshots down to packs', () => {
    const h = history({
      'repo/config': [['v', 1000, 'c'], ['d', 11_000]],
      [pack]: [['v', 1000, 'p'], ['d', 11_000]],
      [snap]: [['v', 1000, 's'], ['d', 11_000]],
      [idx]: [['v', 1000, 'i'], ['d', 11_000]],
      [newPack]: [['v', 11_000, 'x']],
      [`repo/snapshots/${ID('9')}`]: [['v', 11_000, 'forged']],
      [`repo/locks/${ID('8')}`]: [['v', 11_000, 'lock']],
    });
    const order = applyOrder(planRollback(h, T, 'repo/').changes).map((c) => `${c.action === 'remove-added' ? '-' : '+'}${c.type}`);
    expect(order).toEqual(['+pack', '+index', '+config', '+snapshot', '-lock', '-snapshot', '-pack']);
  });
});
