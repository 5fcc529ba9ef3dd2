/**
 * Restore-side pure parts: restic's path patterns (golden vectors from restic 0.14's
 * internal/filter tests), the tree walker's order and skip control on an in-memory tree
 * source, and bounded prefetch when streaming file content.
 */
import { describe, expect, it } from 'vitest';
import { isResticError } from '../../src/errors.js';
import { newNode, type Tree, type TreeNode } from '../../src/format/node.js';
import { childMayMatch, matchList, matchPattern, parsePatterns } from '../../src/restorer/filter.js';
import { goPathClean as cleanPath } from '../../src/format/go-path.js';
import { findNode, joinPath, streamFileContent, walkTree, type TreeSource } from '../../src/restorer/walker.js';
import type { BlobType } from '../../src/pack/header.js';

// restic 0.14 internal/filter/filter_test.go matchTests (pattern, path, match)
const MATCH_TESTS: [string, string, boolean][] = [
  ["", "", true],
  ["", "foo", true],
  ["", "/x/y/z/foo", true],
  ["*.go", "/foo/bar/test.go", true],
  ["*.c", "/foo/bar/test.go", false],
  ["*", "/foo/bar/test.go", true],
  ["**", "/foo/bar/test.go", true],
  ["foo*", "/foo/bar/test.go", true],
  ["bar*", "/foo/bar/test.go", true],
  ["/bar*", "/foo/bar/test.go", false],
  ["bar/*", "/foo/bar/test.go", true],
  ["baz/*", "/foo/bar/test.go", false],
  ["bar/test.go", "/foo/bar/test.go", true],
  ["bar/*.go", "/foo/bar/test.go", true],
  ["ba*/*.go", "/foo/bar/test.go", true],
  ["bb*/*.go", "/foo/bar/test.go", false],
  ["test.*", "/foo/bar/test.go", true],
  ["tesT.*", "/foo/bar/test.go", false],
  ["bar/*", "/foo/bar/baz", true],
  ["bar", "/foo/bar", true],
  ["/foo/bar", "/foo/bar", true],
  ["/foo/bar/", "/foo/bar", true],
  ["/foo/bar", "/foo/baz", false],
  ["/foo/bar", "/foo/baz/", false],
  ["/foo///bar", "/foo/bar", true],
  ["/foo/../bar", "/foo/bar", false],
  ["/foo/../bar", "/bar", true],
  ["/foo", "/foo/baz", true],
  ["/foo/", "/foo/baz", true],
  ["/foo/*", "/foo", false],
  ["/foo/*", "/foo/baz", true],
  ["bar", "/foo/bar/baz", true],
  ["bar", "/foo/bar/test.go", true],
  ["/foo/*test.*", "/foo/bar/test.go", false],
  ["/foo/*/test.*", "/foo/bar/test.go", true],
  ["/foo/*/bar/test.*", "/foo/bar/test.go", false],
  ["/*/*/bar/test.*", "/foo/bar/test.go", false],
  ["/*/*/bar/test.*", "/foo/bar/baz/test.go", false],
  ["/*/*/baz/test.*", "/foo/bar/baz/test.go", true],
  ["/*/foo/bar/test.*", "/foo/bar/baz/test.go", false],
  ["/*/foo/bar/test.*", "/foo/bar/baz/test.go", false],
  ["/foo/bar/test.*", "bar/baz/test.go", false],
  ["/x/y/bar/baz/test.*", "bar/baz/test.go", false],
  ["/x/y/bar/baz/test.c", "bar/baz/test.go", false],
  ["baz/test.*", "bar/baz/test.go", true],
  ["baz/tesT.*", "bar/baz/test.go", false],
  ["test.go", "bar/baz/test.go", true],
  ["*.go", "bar/baz/test.go", true],
  ["*.c", "bar/baz/test.go", false],
  ["sdk", "/foo/bar/sdk", true],
  ["sdk", "/foo/bar/sdk/test/sdk_foo.go", true],
  ["foo/**/bar/*.go", "/home/user/foo/work/special/project/bar/test.go", true],
  ["foo/**/bar/*.go", "/home/user/foo/bar/test.go", true],
  ["foo/**/bar/*.go", "x/foo/bar/test.go", true],
  ["foo/**/bar/*.go", "foo/bar/test.go", true],
  ["foo/**/bar/*.go", "foo/bar/baz/bar/test.go", true],
  ["foo/**/bar/*.go", "/home/user/foo/test.c", false],
  ["foo/**/bar/*.go", "bar/foo/main.go", false],
  ["foo/**/bar/*.go", "/foo/bar/main.go", true],
  ["foo/**/bar/*.go", "bar/main.go", false],
  ["foo/**/bar", "/home/user/foo/x/y/bar", true],
  ["foo/**/bar", "/home/user/foo/x/y/bar/main.go", true],
  ["foo/**/bar/**/x", "/home/user/foo/bar/x", true],
  ["foo/**/bar/**/x", "/home/user/foo/blaaa/blaz/bar/shared/work/x", true],
  ["user/**/important*", "/home/user/work/x/y/hidden/x", false],
  ["user/**/hidden*/**/c", "/home/user/work/x/y/hidden/z/a/b/c", true],
  ["c:/foo/*test.*", "c:/foo/bar/test.go", false],
  ["c:/foo", "c:/foo/bar", true],
  ["c:/foo/", "c:/foo/bar", true],
  ["c:/foo/*/test.*", "c:/foo/bar/test.go", true],
  ["c:/foo/*/bar/test.*", "c:/foo/bar/test.go", false],
];
// childMatchTests
const CHILD_MATCH_TESTS: [string, string, boolean][] = [
  ["", "", true],
  ["", "/foo", true],
  ["", "/x/y/z/foo", true],
  ["foo/bar", "/foo", true],
  ["baz/bar", "/foo", true],
  ["foo", "/foo/bar", true],
  ["bar", "/foo", true],
  ["baz", "/foo/bar", true],
  ["*", "/foo", true],
  ["*", "/foo/bar", true],
  ["/foo/bar", "/foo", true],
  ["/foo/bar/baz", "/foo", true],
  ["/foo/bar/baz", "/foo/bar", true],
  ["/foo/bar/baz", "/foo/baz", false],
  ["/foo/**/baz", "/foo/bar/baz", true],
  ["/foo/**/baz", "/foo/bar/baz/blah", true],
  ["/foo/**/qux", "/foo/bar/baz/qux", true],
  ["/foo/**/qux", "/foo/bar/baz", true],
  ["/foo/**/qux", "/foo/bar/baz/boo", true],
  ["/foo/**", "/foo/bar/baz", true],
  ["/foo/**", "/foo/bar", true],
  ["foo/**/bar/**/x", "/home/user/foo", true],
  ["foo/**/bar/**/x", "/home/user/foo/bar", true],
  ["foo/**/bar/**/x", "/home/user/foo/blaaa/blaz/bar/shared/work/x", true],
  ["/foo/*/qux", "/foo/bar", true],
  ["/foo/*/qux", "/foo/bar/boo", false],
  ["/foo/*/qux", "/foo/bar/boo/xx", false],
  ["/baz/bar", "/foo", false],
  ["/foo", "/foo/bar", true],
  ["/*", "/foo", true],
  ["/*", "/foo/bar", true],
  ["/foo", "/foo/bar", true],
  ["/**", "/foo", true],
  ["/*/**", "/foo", true],
  ["/*/**", "/foo/bar", true],
  ["/*/bar", "/foo", true],
  ["/bar/*", "/foo", false],
  ["/foo/*/baz", "/foo/bar", true],
  ["/foo/*/baz", "/foo/baz", true],
  ["/foo/*/baz", "/bar/baz", false],
  ["/**/*", "/foo", true],
  ["/**/bar", "/foo/bar", true],
];
// filterListTests (patterns, path, match, childMatch)
const LIST_TESTS: [string[], string, boolean, boolean][] = [
  [[], "/foo/bar/test.go", false, false],
  [["*.go"], "/foo/bar/test.go", true, true],
  [["*.go"], "/foo/bar", false, true],
  [["*.c"], "/foo/bar/test.go", false, true],
  [["*.go", "*.c"], "/foo/bar/test.go", true, true],
  [["*"], "/foo/bar/test.go", true, true],
  [["x"], "/foo/bar/test.go", false, true],
  [["?"], "/foo/bar/test.go", false, true],
  [["?", "x"], "/foo/bar/x", true, true],
  [["/*/*/bar/test.*"], "/foo/bar/test.go", false, false],
  [["/*/*/bar/test.*"], "/foo/bar/bar", false, true],
  [["/*/*/bar/test.*", "*.go"], "/foo/bar/test.go", true, true],
  [["", "*.c"], "/foo/bar/test.go", false, true],
  [["!**", "*.go"], "/foo/bar/test.go", true, true],
  [["!**", "*.c"], "/foo/bar/test.go", false, true],
  [["/foo/*/test.*", "!*.c"], "/foo/bar/test.c", false, false],
  [["/foo/*/test.*", "!*.c"], "/foo/bar/test.go", true, true],
  [["/foo/*/*", "!test.*", "*.c"], "/foo/bar/test.go", false, true],
  [["/foo/*/*", "!test.*", "*.c"], "/foo/bar/test.c", true, true],
  [["/foo/*/*", "!test.*", "*.c"], "/foo/bar/file.go", true, true],
  [["/**/*", "!/foo", "/foo/*", "!/foo/bar"], "/foo/other/test.go", true, true],
  [["/**/*", "!/foo", "/foo/*", "!/foo/bar"], "/foo/bar", false, false],
  [["/**/*", "!/foo", "/foo/*", "!/foo/bar"], "/foo/bar/test.go", false, false],
  [["/**/*", "!/foo", "/foo/*", "!/foo/bar"], "/foo/bar/test.go/child", false, false],
  [["/**/*", "!/foo", "/foo/*", "!/foo/bar", "/foo/bar/test*"], "/foo/bar/test.go/child", true, true],
  [["/foo/bar/*"], "/foo", false, true],
  [["/foo/bar/*", "!/foo/bar/[a-m]*"], "/foo", false, true],
  [["/foo/**/test.c"], "/foo/bar/foo/bar/test.c", true, true],
  [["/foo/*/test.c"], "/foo/bar/foo/bar/test.c", false, false],
];

describe('restic path patterns', () => {
  it('Match equals restic for its test table', () => {
    for (const [pattern, path, want] of MATCH_TESTS) {
      if (path === '' && pattern !== '') continue; // restic: error for an empty path
      expect(matchPattern(pattern, path), `${pattern} ~ ${path}`).toBe(want);
    }
  });

  it('ChildMatch equals restic for its test table', () => {
    for (const [pattern, path, want] of CHILD_MATCH_TESTS) {
      if (path === '' && pattern !== '') continue;
      expect(childMayMatch(pattern, path), `${pattern} ~> ${path}`).toBe(want);
    }
  });

  it('ListWithChild equals restic (negated patterns, empty patterns dropped)', () => {
    for (const [patterns, path, match, child] of LIST_TESTS) {
      expect(matchList(parsePatterns(patterns), path), `${patterns.join(' ')} ~ ${path}`).toEqual({ matched: match, childMayMatch: child });
    }
  });

  it('rejects a bad glob with a USAGE error naming the pattern', () => {
    for (const bad of ['test/[', 'test/**/[', 'a\\', '[]a]', '[z-a]']) {
      try {
        parsePatterns([bad]);
        expect.unreachable(bad);
      } catch (err) {
        expect(isResticError(err, 'USAGE')).toBe(true);
        expect((err as Error).message).toContain(JSON.stringify(bad));
      }
    }
  });

  it('globs: classes, negation, escapes, ? and * stay inside one component', () => {
    expect(matchPattern('/a/[b-d]x', '/a/cx')).toBe(true);
    expect(matchPattern('/a/[^b-d]x', '/a/cx')).toBe(false);
    expect(matchPattern('/a/[^b-d]x', '/a/ex')).toBe(true);
    expect(matchPattern('/a/\\*', '/a/*')).toBe(true);
    expect(matchPattern('/a/\\*', '/a/b')).toBe(false);
    expect(matchPattern('/a/?', '/a/é')).toBe(true);
    expect(matchPattern('/a*', '/ab/c')).toBe(true); // a prefix of the path is enough
    expect(matchPattern('/a/*c', '/a/b/c')).toBe(false);
  });

  it('goPathClean (used by the filters) is Go path.Clean', () => {
    expect(cleanPath('')).toBe('.');
    expect(cleanPath('/foo/../bar')).toBe('/bar');
    expect(cleanPath('/../x')).toBe('/x');
    expect(cleanPath('a//b/./c/')).toBe('a/b/c');
    expect(cleanPath('../../a')).toBe('../../a');
  });
});

/** An in-memory TreeSource: trees by ID, data blobs by ID, counting concurrent blob loads. */
class FakeSource implements TreeSource {
  readonly trees = new Map<string, Tree>();
  readonly blobs = new Map<string, Uint8Array>();
  inFlight = 0;
  maxInFlight = 0;
  treeLoads = 0;

  async loadTree(id: string): Promise<Tree> {
    this.treeLoads++;
    const t = this.trees.get(id);
    if (!t) throw new Error(`no tree ${id}`);
    return t;
  }

  async loadBlob(_type: BlobType, id: string): Promise<Uint8Array> {
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    await new Promise((r) => setTimeout(r, 1));
    this.inFlight--;
    const b = this.blobs.get(id);
    if (!b) throw new Error(`no blob ${id}`);
    return b;
  }
}

const id = (n: number): string => n.toString(16).padStart(64, '0');

function sampleSource(): FakeSource {
  const s = new FakeSource();
  // root: z (file), a (dir → sub), bad\xff (file), m (dir → empty); stored unsorted on purpose
  const sub: TreeNode[] = [newNode({ name: 'y', type: 'file', content: [] }), newNode({ name: 'x', type: 'symlink', linkTarget: Buffer.from('y') })];
  s.trees.set(id(2), { nodes: sub, extra: {} });
  s.trees.set(id(3), { nodes: [], extra: {} });
  s.trees.set(id(1), {
    nodes: [
      newNode({ name: 'z', type: 'file', content: [] }),
      newNode({ name: 'a', type: 'dir', subtree: id(2) }),
      newNode({ name: Buffer.from([0x62, 0x61, 0x64, 0xff]), type: 'file', content: [] }),
      newNode({ name: 'm', type: 'dir', subtree: id(3) }),
    ],
    extra: {},
  });
  return s;
}

async function paths(gen: AsyncIterable<{ path: Uint8Array }>): Promise<string[]> {
  const out: string[] = [];
  for await (const e of gen) out.push(Buffer.from(e.path).toString('latin1'));
  return out;
}

describe('tree walker', () => {
  it("walks depth first in restic's bytewise name order, directories before their contents", async () => {
    expect(await paths(walkTree(sampleSource(), id(1)))).toEqual(['/a', '/a/x', '/a/y', '/bad\xff', '/m', '/z']);
  });

  it('skips the contents of directories the descend callback refuses, and honours a prefix', async () => {
    const s = sampleSource();
    expect(await paths(walkTree(s, id(1), { descend: (e) => Buffer.from(e.path).toString() !== '/a' }))).toEqual(['/a', '/bad\xff', '/m', '/z']);
    expect(await paths(walkTree(s, id(2), { prefix: Buffer.from('/base/dir') }))).toEqual(['/base/dir/x', '/base/dir/y']);
  });

  it('a directory without a subtree is CORRUPT naming its path', async () => {
    const s = new FakeSource();
    s.trees.set(id(1), { nodes: [newNode({ name: 'broken', type: 'dir' })], extra: {} });
    await expect(paths(walkTree(s, id(1)))).rejects.toMatchObject({ code: 'CORRUPT', message: expect.stringContaining('/broken') });
  });

  it('findNode resolves a path or names the missing part', async () => {
    const s = sampleSource();
    expect((await findNode(s, id(1), '/a/y'))!.node.nameText).toBe('y');
    await expect(findNode(s, id(1), '/a/nope', ' in snapshot 12345678')).rejects.toMatchObject({
      code: 'SNAPSHOT_NOT_FOUND',
      message: 'path /a/nope not found in snapshot 12345678',
    });
    await expect(findNode(s, id(1), '/z/below')).rejects.toMatchObject({ code: 'SNAPSHOT_NOT_FOUND', message: expect.stringContaining('/z') });
  });

  it('joinPath does not double the root slash', () => {
    expect(Buffer.from(joinPath(Buffer.from('/'), Buffer.from('a'))).toString()).toBe('/a');
    expect(Buffer.from(joinPath(Buffer.from('/a'), Buffer.from('b'))).toString()).toBe('/a/b');
  });
});

describe('streamFileContent', () => {
  it('yields the blobs in content order with at most `prefetch` loads in flight', async () => {
    const s = new FakeSource();
    const content: string[] = [];
    for (let i = 0; i < 20; i++) {
      s.blobs.set(id(100 + i), new Uint8Array([i]));
      content.push(id(100 + i));
    }
    const node = newNode({ name: 'f', type: 'file', content, size: 20n });
    const got: number[] = [];
    for await (const blob of streamFileContent(s, node, { prefetch: 3 })) got.push(blob[0]);
    expect(got).toEqual([...Array(20).keys()]);
    expect(s.maxInFlight).toBeLessThanOrEqual(3);
    expect(s.maxInFlight).toBeGreaterThan(1);
  });

  it('passes a blob error through', async () => {
    const s = new FakeSource();
    const node = newNode({ name: 'f', type: 'file', content: [id(7)] });
    await expect(paths(streamFileContent(s, node) as unknown as AsyncIterable<{ path: Uint8Array }>)).rejects.toThrow(/no blob/);
  });
});
