/**
 * Version history merging and the TIME parser, with synthetic listings shaped like
 * radosgw 16's: versions and delete markers in separate arrays, each newest first per key,
 * LastModified in milliseconds.
 */
import { describe, expect, it } from 'vitest';
import { isResticError } from '../../src/errors.js';
import { parseTimeArgument, rejectFutureTime } from '../../src/s3/time.js';
import { buildHistory, currentState, presentAt, stateAt, type RawListing } from '../../src/s3/version-history.js';

const keyToFile = (key: string) => (key === 'p/config' ? { type: 'config' as const, name: 'config' } : undefined);

function v(key: string, versionId: string, time: number, isLatest = false, etag = `"${versionId}"`, size = 10) {
  return { key, versionId, time, isLatest, etag, size };
}
function m(key: string, versionId: string, time: number, isLatest = false) {
  return { key, versionId, time, isLatest };
}

describe('buildHistory', () => {
  it('merges versions and delete markers of a key by LastModified, oldest first', () => {
    const raw: RawListing = {
      versions: [v('p/config', 'v3', 3000, true), v('p/config', 'v1', 1000)],
      deleteMarkers: [m('p/config', 'd2', 2000)],
    };
    const h = buildHistory(raw, keyToFile);
    expect(h.keys).toHaveLength(1);
    expect(h.keys[0].file).toEqual({ type: 'config', name: 'config' });
    expect(h.keys[0].events.map((e) => e.versionId)).toEqual(['v1', 'd2', 'v3']);
    expect(h.oldest).toBe(1000);
    expect(h.newest).toBe(3000);
  });

  it('within one millisecond, the IsLatest entry is the newest', () => {
    const raw: RawListing = { versions: [v('k', 'v1', 5000)], deleteMarkers: [m('k', 'd1', 5000, true)] };
    expect(currentState(buildHistory(raw, keyToFile).keys[0]).versionId).toBe('d1');
    const raw2: RawListing = { versions: [v('k', 'v1', 5000, true)], deleteMarkers: [m('k', 'd1', 5000)] };
    expect(currentState(buildHistory(raw2, keyToFile).keys[0]).versionId).toBe('v1');
  });

  it('keeps the listing order of same-millisecond versions (newest first in the listing)', () => {
    const raw: RawListing = { versions: [v('k', 'newer', 7000, true), v('k', 'older', 7000)], deleteMarkers: [] };
    expect(buildHistory(raw, keyToFile).keys[0].events.map((e) => e.versionId)).toEqual(['older', 'newer']);
  });

  it('groups keys across pages and sorts keys bytewise; keys outside the layout have no file', () => {
    const raw: RawListing = {
      versions: [v('p/b', 'x', 1, true), v('p/a', 'y', 2, true), v('p/config', 'c', 3, true)],
      deleteMarkers: [m('p/a', 'z', 4, true)],
    };
    const h = buildHistory(raw, keyToFile);
    expect(h.keys.map((k) => k.key)).toEqual(['p/a', 'p/b', 'p/config']);
    expect(h.keys[0].file).toBeUndefined();
    expect(h.keys[0].events.map((e) => e.kind)).toEqual(['version', 'delete-marker']);
  });

  it('stateAt / presentAt: the newest event at or before TIME (inclusive), nothing before the first', () => {
    const h = buildHistory({ versions: [v('k', 'v3', 3000, true), v('k', 'v1', 1000)], deleteMarkers: [m('k', 'd2', 2000)] }, keyToFile).keys[0];
    expect(stateAt(h, 999)).toBeUndefined();
    expect(stateAt(h, 1000)?.versionId).toBe('v1');
    expect(presentAt(h, 1999)?.versionId).toBe('v1');
    expect(stateAt(h, 2000)?.kind).toBe('delete-marker');
    expect(presentAt(h, 2500)).toBeUndefined();
    expect(presentAt(h, 10_000)?.versionId).toBe('v3');
  });
});

describe('parseTimeArgument', () => {
  it('reads RFC 3339 with Z, offsets and fractions (to the millisecond)', () => {
    expect(parseTimeArgument('2026-11-26T13:05:00Z', '--to')).toBe(Date.UTC(2026, 10, 26, 13, 5, 0));
    expect(parseTimeArgument('2026-11-26T14:05:00+01:00', '--to')).toBe(Date.UTC(2026, 10, 26, 13, 5, 0));
    expect(parseTimeArgument('2026-11-26T13:05:00.123456789Z', '--to')).toBe(Date.UTC(2026, 10, 26, 13, 5, 0) + 123);
    expect(parseTimeArgument(' 2026-11-26t08:05:00-05:00 ', '--to')).toBe(Date.UTC(2026, 10, 26, 13, 5, 0));
  });

  it('reads restic\'s "YYYY-MM-DD HH:MM:SS" as local time', () => {
    expect(parseTimeArgument('2026-11-26 13:05:07', '--as-of')).toBe(new Date(2026, 10, 26, 13, 5, 7).getTime());
  });

  it('refuses what is not a time, and impossible dates, naming the flag (USAGE)', () => {
    for (const bad of ['yesterday', '2026-11-26', '2026-02-30 10:00:00', '2026-11-26T25:00:00Z', '', '1700000000']) {
      let err: unknown;
      try {
        parseTimeArgument(bad, '--as-of');
      } catch (e) {
        err = e;
      }
      expect(isResticError(err, 'USAGE'), bad).toBe(true);
      expect((err as Error).message).toContain('--as-of');
    }
  });

  it('refuses a time in the future', () => {
    expect(() => rejectFutureTime(2000, 1000, '--since', 'x')).toThrow(/in the future/);
    expect(() => rejectFutureTime(1000, 1000, '--since', 'x')).not.toThrow();
  });
});
