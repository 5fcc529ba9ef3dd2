import { describe, expect, it } from 'vitest';
import { isResticError } from '../../src/errors.js';
import { GoTime } from '../../src/format/gotime.js';
import { parseSnapshot, type Snapshot } from '../../src/format/snapshot.js';
import {
  groupHeader,
  groupKey,
  groupKeyJson,
  groupSnapshots,
  latestPerHostAndPaths,
  matchesFilter,
  normalizeFilterPaths,
  parseGroupBy,
  parseTagListFlags,
  snapshotsToCliJson,
  sortOldestFirst,
} from '../../src/format/snapshot-filter.js';

const TREE = '3527e5d181acd957e659931572823a7d2736e07e6d1bb476a20252742c268c56';
const id = (n: number) => String(n).repeat(64).slice(0, 64);

function snap(n: number, fields: Partial<Snapshot>): Snapshot {
  return { time: GoTime.parse(`2020-01-0${n}T00:00:00Z`), tree: TREE, paths: ['/data'], id: id(n), ...fields };
}

describe('matchesFilter', () => {
  const a = snap(1, { hostname: 'h1', tags: ['x', 'y'], paths: ['/a', '/b'] });
  const b = snap(2, { hostname: 'h2', paths: ['/a'] });

  it('hosts: any of', () => {
    expect(matchesFilter(a, { hosts: ['h2', 'h1'] })).toBe(true);
    expect(matchesFilter(a, { hosts: ['h2'] })).toBe(false);
    expect(matchesFilter(a, { hosts: [] })).toBe(true);
  });

  it('tags: all tags of at least one list; an empty tag matches no tags', () => {
    expect(matchesFilter(a, { tags: [['x', 'y']] })).toBe(true);
    expect(matchesFilter(a, { tags: [['x', 'z']] })).toBe(false);
    expect(matchesFilter(a, { tags: [['x', 'z'], ['y']] })).toBe(true);
    expect(matchesFilter(a, { tags: [['']] })).toBe(false);
    expect(matchesFilter(b, { tags: [['']] })).toBe(true);
    expect(matchesFilter(b, { tags: [['x']] })).toBe(false);
    // restic's HasTags stops at the empty tag when the snapshot has no tags (order matters).
    expect(matchesFilter(b, { tags: [['', 'x']] })).toBe(true);
    expect(matchesFilter(b, { tags: [['x', '']] })).toBe(false);
  });

  it('paths: all given paths', () => {
    expect(matchesFilter(a, { paths: ['/b', '/a'] })).toBe(true);
    expect(matchesFilter(b, { paths: ['/a', '/b'] })).toBe(false);
    expect(matchesFilter(a, { hosts: ['h1'], tags: [['x']], paths: ['/a'] })).toBe(true);
  });

  it('parses --tag flags and normalises --path values', () => {
    expect(parseTagListFlags(['a,b', ' c ', ''])).toEqual([['a', 'b'], ['c'], ['']]);
    expect(normalizeFilterPaths(['/a/b/', 'rel/../x', '//y/./z'], '/home/u')).toEqual(['/a/b', '/home/u/x', '/y/z']);
  });
});

describe('grouping', () => {
  it('parses --group-by like restic', () => {
    expect(parseGroupBy('host,paths')).toEqual({ host: true, paths: true, tags: false });
    expect(parseGroupBy('hosts,path,tag')).toEqual({ host: true, paths: true, tags: true });
    expect(parseGroupBy('')).toEqual({ host: false, paths: false, tags: false });
    try {
      parseGroupBy('host,color');
      throw new Error('no error');
    } catch (err) {
      expect(isResticError(err, 'USAGE')).toBe(true);
      expect((err as Error).message).toBe("unknown grouping option: 'color'");
    }
  });

  it('builds the key JSON with only the enabled parts, sorted lists and null for nil', () => {
    const sn = snap(1, { hostname: 'h<1>', paths: ['/z', '/a'], tags: ['b', 'a'] });
    expect(groupKeyJson(groupKey(sn, parseGroupBy('host,tags')))).toBe('{"hostname":"h\\u003c1\\u003e","paths":null,"tags":["a","b"]}');
    expect(groupKeyJson(groupKey(sn, parseGroupBy('paths')))).toBe('{"hostname":"","paths":["/a","/z"],"tags":null}');
    expect(groupKeyJson(groupKey(snap(2, {}), parseGroupBy('tags')))).toBe('{"hostname":"","paths":null,"tags":null}');
    // An explicit empty list is not nil in Go: its key differs.
    expect(groupKeyJson(groupKey(snap(2, { tags: [] }), parseGroupBy('tags')))).toBe('{"hostname":"","paths":null,"tags":[]}');
    expect(groupHeader(groupKey(sn, parseGroupBy('host,paths,tags')))).toBe('snapshots for (host [h<1>], tags [a, b], paths [/a, /z]):');
    expect(groupHeader(groupKey(sn, parseGroupBy('')))).toBe('');
  });

  it('groups in order of first appearance, keeps input order inside groups, sorts paths (and tags) in copies', () => {
    const s1 = snap(3, { hostname: 'h1', paths: ['/b', '/a'], tags: ['z', 'y'] });
    const s2 = snap(1, { hostname: 'h2', paths: ['/a'] });
    const s3 = snap(2, { hostname: 'h1', paths: ['/a', '/b'] });
    const r = groupSnapshots([s1, s2, s3], parseGroupBy('host,paths'));
    expect(r.grouped).toBe(true);
    expect(r.groups.map((g) => g.snapshots.map((s) => s.id))).toEqual([[id(3), id(2)], [id(1)]]);
    expect(r.groups[0].snapshots[0].paths).toEqual(['/a', '/b']);
    expect(r.groups[0].snapshots[0].tags).toEqual(['z', 'y']);
    expect(s1.paths).toEqual(['/b', '/a']); // input untouched
    expect(groupSnapshots([s1], parseGroupBy('tags')).groups[0].snapshots[0].tags).toEqual(['y', 'z']);
    const flat = groupSnapshots([s1, s2], parseGroupBy(''));
    expect(flat.grouped).toBe(false);
    expect(flat.groups).toHaveLength(1);
  });

  it('orders and limits like snapshots --latest', () => {
    const list = [snap(1, { hostname: 'a' }), snap(3, { hostname: 'a' }), snap(2, { hostname: 'b' }), snap(4, { hostname: 'a' })];
    expect(latestPerHostAndPaths(list, 2).map((s) => s.id)).toEqual([id(4), id(3), id(2)]);
    expect(sortOldestFirst(list).map((s) => s.id)).toEqual([id(1), id(2), id(3), id(4)]);
  });
});

describe('snapshots --json output', () => {
  // Captured from restic 0.14: `restic snapshots --json --group-by host,tags` and `--group-by paths`.
  const sn1 = `{"time":"2026-11-26T13:47:36.206480521+01:00","tree":"${TREE}","paths":["/tmp/rx/src","/tmp/rx/src/sub"],"hostname":"h1","username":"root","tags":["b","a"]}`;
  const id1 = '3ef6fe0634e5a4c2a00aa2cc4f5bd8ff4592c236b99bffac9786eefa9a6327fa';
  const sn2 = `{"time":"2026-11-26T12:47:42.043594203Z","tree":"214944e8d2b7b6b8aa0f61fb21aa069ebdd2ac63e37877c2fb80360e53b50504","paths":["/tmp/rx/src/sub","/tmp/rx/src"],"hostname":"vm","username":"root","tags":["x\\u003cy"]}`;
  const id2 = 'ea85809fd8f3c03be1ebec9d985b59b2e359f3d18bb5743a74bc79aff0dc92f2';
  const list = [parseSnapshot(sn1, id1), parseSnapshot(sn2, id2)];

  it('grouped by host,tags', () => {
    const r = groupSnapshots([list[0]], parseGroupBy('host,tags'));
    expect(snapshotsToCliJson(r)).toBe(
      `[{"group_key":{"hostname":"h1","paths":null,"tags":["a","b"]},"snapshots":[{"time":"2026-11-26T13:47:36.206480521+01:00","tree":"${TREE}","paths":["/tmp/rx/src","/tmp/rx/src/sub"],"hostname":"h1","username":"root","tags":["a","b"],"id":"${id1}","short_id":"3ef6fe06"}]}]\n`,
    );
  });

  it('not grouped: a flat list, paths sorted, tags as stored', () => {
    const r = groupSnapshots(list, parseGroupBy(''));
    expect(snapshotsToCliJson(r)).toBe(
      `[{"time":"2026-11-26T13:47:36.206480521+01:00","tree":"${TREE}","paths":["/tmp/rx/src","/tmp/rx/src/sub"],"hostname":"h1","username":"root","tags":["b","a"],"id":"${id1}","short_id":"3ef6fe06"},` +
        `{"time":"2026-11-26T12:47:42.043594203Z","tree":"214944e8d2b7b6b8aa0f61fb21aa069ebdd2ac63e37877c2fb80360e53b50504","paths":["/tmp/rx/src","/tmp/rx/src/sub"],"hostname":"vm","username":"root","tags":["x\\u003cy"],"id":"${id2}","short_id":"ea85809f"}]\n`,
    );
  });

  it('grouped by paths', () => {
    const r = groupSnapshots(list, parseGroupBy('paths'));
    expect(r.groups).toHaveLength(1);
    expect(snapshotsToCliJson(r).startsWith('[{"group_key":{"hostname":"","paths":["/tmp/rx/src","/tmp/rx/src/sub"],"tags":null},"snapshots":[{')).toBe(true);
  });
});
