import { describe, expect, it } from 'vitest';
import type { LifecycleRule } from '@aws-sdk/client-s3';
import { isDoctorCanaryKey, lifecycleRule, ruleApplies } from '../../src/s3/doctor.js';
import { accountSpace } from '../../src/s3/space.js';
import { buildHistory } from '../../src/s3/version-history.js';

describe('s3 doctor: which lifecycle rules cover the repository', () => {
  const rule = (r: Partial<LifecycleRule>): LifecycleRule => ({ Status: 'Enabled', ...r }) as LifecycleRule;
  it('prefix rules', () => {
    expect(ruleApplies(rule({ Filter: { Prefix: '' } }), 'repo/')).toBe(true);
    expect(ruleApplies(rule({ Filter: { Prefix: 'repo/' } }), 'repo/')).toBe(true);
    expect(ruleApplies(rule({ Filter: { Prefix: 're' } }), 'repo/')).toBe(true);
    expect(ruleApplies(rule({ Filter: { Prefix: 'repo/data/' } }), 'repo/')).toBe(false); // only part of it
    expect(ruleApplies(rule({ Filter: { Prefix: 'other/' } }), 'repo/')).toBe(false);
    expect(ruleApplies(rule({ Filter: { And: { Prefix: 'repo/' } } }), 'repo/')).toBe(true);
    expect(ruleApplies(rule({}), '')).toBe(true); // no filter: whole bucket
    expect(ruleApplies({ Status: 'Disabled', Filter: { Prefix: '' } } as LifecycleRule, 'repo/')).toBe(false);
  });
  it('tag and size filters never cover restic objects (they carry no tags)', () => {
    expect(ruleApplies(rule({ Filter: { Tag: { Key: 'a', Value: 'b' } } }), 'repo/')).toBe(false);
    expect(ruleApplies(rule({ Filter: { And: { Prefix: 'repo/', Tags: [{ Key: 'a', Value: 'b' }] } } }), 'repo/')).toBe(false);
    expect(ruleApplies(rule({ Filter: { ObjectSizeGreaterThan: 10 } }), 'repo/')).toBe(false);
  });
  it('the recommended rule and the canary name', () => {
    const r = lifecycleRule('hosts/web1/', 45) as { Filter: { Prefix: string }; NoncurrentVersionExpiration: { NoncurrentDays: number } };
    expect(r.Filter.Prefix).toBe('hosts/web1/');
    expect(r.NoncurrentVersionExpiration.NoncurrentDays).toBe(45);
    expect(ruleApplies(r as LifecycleRule, 'hosts/web1/')).toBe(true);
    expect(isDoctorCanaryKey('repo/locks/restic-ts-doctor-canary-0123456789abcdef')).toBe(true);
    expect(isDoctorCanaryKey('repo/locks/' + 'a'.repeat(64))).toBe(false);
  });
});

describe('versioned space accounting', () => {
  it('current vs non-current bytes and delete markers per file type', () => {
    const id = (c: string) => c.repeat(64);
    const keyToFile = (key: string) => {
      if (key === 'repo/config') return { type: 'config' as const, name: 'config' };
      const m = /^repo\/(data\/..|locks|index)\/([0-9a-f]{64})$/.exec(key);
      if (!m) return undefined;
      return { type: m[1].startsWith('data') ? ('pack' as const) : m[1] === 'locks' ? ('lock' as const) : ('index' as const), name: m[2] };
    };
    const v = (key: string, versionId: string, time: number, size: number, isLatest = false) => ({ key, versionId, time, size, isLatest, etag: '"x"' });
    const history = buildHistory(
      {
        versions: [
          v('repo/config', 'c1', 1, 155, true),
          v(`repo/data/aa/${id('a')}`, 'p1', 2, 1000),
          v(`repo/data/bb/${id('b')}`, 'p2', 3, 2000, true),
          v(`repo/locks/${id('c')}`, 'l2', 6, 150),
          v(`repo/locks/${id('c')}`, 'l1', 4, 150),
          v('repo/stray', 's1', 7, 9, true),
        ],
        deleteMarkers: [
          { key: `repo/data/aa/${id('a')}`, versionId: 'd1', time: 5, isLatest: true },
          { key: `repo/locks/${id('c')}`, versionId: 'd2', time: 8, isLatest: true },
        ],
      },
      keyToFile,
    );
    const s = accountSpace(history);
    expect(s.byType.pack).toEqual({ currentObjects: 1, currentBytes: 2000, noncurrentVersions: 1, noncurrentBytes: 1000, deleteMarkers: 1 });
    expect(s.byType.lock).toEqual({ currentObjects: 0, currentBytes: 0, noncurrentVersions: 2, noncurrentBytes: 300, deleteMarkers: 1 });
    expect(s.byType.config.currentBytes).toBe(155);
    expect(s.byType.other.currentObjects).toBe(1);
    expect(s.total).toEqual({ currentObjects: 3, currentBytes: 2164, noncurrentVersions: 3, noncurrentBytes: 1300, deleteMarkers: 2 });
  });
});
