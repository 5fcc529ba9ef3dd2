/**
 * The audit's pure parts: event classification on a synthetic history, and the snapshot
 * examination (content hash vs name, decryption, recorded vs written time) with real crypto.
 */
import { describe, expect, it } from 'vitest';
import { generateMasterKey, seal, sha256 } from '../../src/crypto/index.js';
import { GoTime } from '../../src/format/gotime.js';
import { encodeSnapshotBytes } from '../../src/format/snapshot.js';
import { auditHistory, examineSnapshotVersion } from '../../src/s3/audit.js';
import { buildHistory, type RawListing } from '../../src/s3/version-history.js';

const ID = (c: string) => c.repeat(64);

function keyToFile(key: string) {
  const rel = key.slice('repo/'.length);
  if (rel === 'config') return { type: 'config' as const, name: 'config' };
  const [dir, name] = rel.split('/');
  const type = ({ snapshots: 'snapshot', keys: 'key', locks: 'lock', index: 'index' } as const)[dir as 'snapshots'];
  return type && name ? { type, name } : undefined;
}

describe('auditHistory', () => {
  const raw: RawListing = {
    versions: [
      { key: 'repo/config', versionId: 'c2', time: 12_000, isLatest: true, etag: '"x"', size: 20 },
      { key: 'repo/config', versionId: 'c1', time: 1000, isLatest: false, etag: '"c"', size: 155 },
      { key: `repo/snapshots/${ID('a')}`, versionId: 's1', time: 11_000, isLatest: true, etag: '"s"', size: 300 },
      { key: `repo/keys/${ID('b')}`, versionId: 'k1', time: 1000, isLatest: false, etag: '"k"', size: 400 },
      { key: `repo/keys/${ID('b')}`, versionId: 'k2', time: 15_000, isLatest: true, etag: '"k"', size: 400 },
      { key: `repo/index/${ID('c')}`, versionId: 'i1', time: 1000, isLatest: false, etag: '"i"', size: 50 },
      { key: 'repo/ransom.txt', versionId: 'r1', time: 16_000, isLatest: true, etag: '"r"', size: 9 },
    ],
    deleteMarkers: [
      { key: `repo/keys/${ID('b')}`, versionId: 'kd', time: 13_000, isLatest: false },
      { key: `repo/index/${ID('c')}`, versionId: 'id', time: 13_000, isLatest: true },
    ],
  };
  const report = auditHistory(buildHistory(raw, keyToFile), 10_000, 'repo/');

  it('classifies every event after TIME by what the key held before it', () => {
    expect(report.events.map((e) => `${e.type}:${e.kind}`)).toEqual([
      'snapshot:added',
      'config:overwritten',
      'index:deleted',
      'key:deleted',
      'key:recreated',
      'other:added',
    ]);
    expect(report.counts).toEqual({
      snapshot: { added: 1 },
      config: { overwritten: 1 },
      index: { deleted: 1 },
      key: { deleted: 1, recreated: 1 },
      other: { added: 1 },
    });
  });

  it('flags overwrites, config and key changes and foreign objects, not ordinary backup activity', () => {
    const flagged = Object.fromEntries(report.events.map((e) => [`${e.type}:${e.kind}`, e.suspicious]));
    expect(flagged['config:overwritten']).toMatch(/restic never overwrites/);
    expect(flagged['key:deleted']).toMatch(/key file .* removed/);
    expect(flagged['key:recreated']).toMatch(/key file .* added/);
    expect(flagged['other:added']).toMatch(/not a restic repository file/);
    expect(flagged['snapshot:added']).toBeUndefined();
    expect(flagged['index:deleted']).toBeUndefined();
    expect(report.suspiciousCount).toBe(4);
  });
});

describe('examineSnapshotVersion', () => {
  const key = generateMasterKey();
  const written = Date.UTC(2026, 10, 26, 12, 0, 0);
  const snapshotFile = (time: GoTime) => {
    const raw = seal(key, encodeSnapshotBytes({ time, tree: ID('1'), paths: ['/src'], hostname: 'h' }));
    return { raw, name: Buffer.from(sha256(raw)).toString('hex') };
  };

  it('accepts a snapshot recorded shortly before it was written', async () => {
    const { raw, name } = snapshotFile(GoTime.fromDate(new Date(written - 3600_000), 0));
    const f = await examineSnapshotVersion(name, raw, written, 'v', key, { now: written });
    expect(f).toMatchObject({ kind: 'ok', hostname: 'h', recordedMs: written - 3600_000 });
  });

  it('flags a recorded time after the write (beyond clock skew) and one long before it', async () => {
    const future = snapshotFile(GoTime.parse('2099-01-01T00:00:00Z'));
    const f1 = await examineSnapshotVersion(future.name, future.raw, written, 'v', key, { now: written });
    expect(f1.kind).toBe('future-time');
    expect(f1.detail).toMatch(/2099-01-01T00:00:00Z.*after it was written \(in the future\)/);
    const past = snapshotFile(GoTime.parse('2020-01-01T00:00:00Z'));
    const f2 = await examineSnapshotVersion(past.name, past.raw, written, 'v', key, { now: written });
    expect(f2.kind).toBe('forged-time');
    expect((await examineSnapshotVersion(past.name, past.raw, written, 'v', key, { toleranceMs: 10 * 365 * 86400_000 })).kind).toBe('ok');
  });

  it('flags a file whose content does not hash to its name (a copy) and bytes the key cannot open', async () => {
    const { raw } = snapshotFile(GoTime.fromDate(new Date(written - 1000), 0));
    const copy = await examineSnapshotVersion(ID('f'), raw, written, 'v', key, { now: written });
    expect(copy.kind).toBe('name-mismatch');
    expect(copy.recorded).toBeDefined();
    const garbage = new Uint8Array(200).fill(7);
    const g = await examineSnapshotVersion(Buffer.from(sha256(garbage)).toString('hex'), garbage, written, 'v', key);
    expect(g.kind).toBe('undecryptable');
  });
});
