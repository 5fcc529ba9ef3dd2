/**
 * Extended attributes against the real restic 0.14: both implementations back up the same
 * tree with xattrs into one repository and write identical tree blobs (restic's order, empty
 * values, binary values, non-UTF-8 names, trusted.* and security.* when root, directories
 * and fifos, none for symlinks); each restores what the other backed up; `check
 * --read-data` passes. Attributes are set and read back with python3 (os.setxattr /
 * os.listxattr), independently of our addon.
 *
 * Needs the native addon (built by `npm ci`): in CI a missing addon fails the tests.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { xattrSupport } from '../../src/platform/xattr.js';
import { ours } from '../support/cli.js';
import { blobIds, latestSnapshot, makeResticRepo, restic, subtreeOf, tempDir, TEST_PASSWORD } from '../support/restic.js';

const env = { RESTIC_PASSWORD: TEST_PASSWORD, TZ: 'UTC' };
const support = xattrSupport();
const isRoot = process.geteuid?.() === 0;

/** [name hex, value hex] per attribute, per path relative to the root (no symlinks followed). */
type XattrListing = Record<string, [string, string][]>;

const LIST_SCRIPT = `
import json, os, sys
root = os.fsencode(sys.argv[1])
out = {}
for dirpath, dirnames, filenames in os.walk(root):
    for name in [b''] + dirnames + filenames:
        p = os.path.join(dirpath, name) if name else dirpath
        rel = os.path.relpath(p, root).decode('utf-8', 'surrogateescape')
        out[rel] = [[n.encode('utf-8', 'surrogateescape').hex(), os.getxattr(p, n, follow_symlinks=False).hex()]
                    for n in os.listxattr(p, follow_symlinks=False)]
print(json.dumps(out))
`;

function listXattrs(root: string): XattrListing {
  return JSON.parse(execFileSync('python3', ['-c', LIST_SCRIPT, root], { encoding: 'utf8' })) as XattrListing;
}

function setXattr(file: string, name: Buffer, value: Buffer): void {
  execFileSync('python3', ['-c', 'import os,sys; os.setxattr(os.fsencode(sys.argv[1]), bytes.fromhex(sys.argv[2]), bytes.fromhex(sys.argv[3]), follow_symlinks=False)', file, name.toString('hex'), value.toString('hex')]);
}

const sorted = (l: XattrListing): XattrListing => Object.fromEntries(Object.entries(l).map(([k, v]) => [k, [...v].sort()]));

/**
 * What a restore gives back: the tree format keeps names as JSON strings, so in restic 0.14
 * (and here) each byte of a name that is not UTF-8 comes back as U+FFFD; a symlink's
 * attributes were never recorded.
 */
function afterRestore(l: XattrListing): XattrListing {
  // (for the fixture's 0xff 0xfe, WHATWG's decoder replaces byte by byte as Go does)
  const lossy = (hex: string): string => Buffer.from(Buffer.from(hex, 'hex').toString('utf8')).toString('hex');
  return sorted({ ...Object.fromEntries(Object.entries(l).map(([k, v]) => [k, v.map(([n, val]): [string, string] => [lossy(n), val])])), link: [] });
}

/** The source tree: returns what it should carry (as the file system lists it). */
function makeSource(root: string): void {
  mkdirSync(path.join(root, 'sub'), { recursive: true });
  const file = (rel: string, content: string, attrs: [string | Buffer, string | Buffer][]): void => {
    writeFileSync(path.join(root, rel), content);
    for (const [n, v] of attrs) setXattr(path.join(root, rel), Buffer.from(n), Buffer.from(v));
  };
  // listing order on ext4/tmpfs is not alphabetical: restic keeps the listing's order
  file('f', 'hello', [
    ['user.zeta', 'z'],
    ['user.alpha', Buffer.from([0, 0xff, 0x80, 0x0a, 0x22])],
    ['user.empty', ''],
    ['user.text "quoted" <&> ü', 'v\u2028'],
  ]);
  file('plain', 'no attributes', []);
  // a name that is not UTF-8: Go's JSON writes \ufffd for each bad byte
  file('bad-name', 'x', [[Buffer.from([0x75, 0x73, 0x65, 0x72, 0x2e, 0xff, 0xfe, 0x41]), 'bad']]);
  // more than the addon's 1 KiB first read: the list and a value take the second path
  file(
    'many',
    'm',
    Array.from({ length: 40 }, (_, i): [string, string] => [`user.attribute-with-a-long-name-${String(i).padStart(3, '0')}`, String(i)]),
  );
  file('big-value', 'b', [['user.big', 'v'.repeat(2000)]]);
  setXattr(path.join(root, 'sub'), Buffer.from('user.dir'), Buffer.from('directory value'));
  writeFileSync(path.join(root, 'sub', 'inner'), 'inner');
  setXattr(path.join(root, 'sub', 'inner'), Buffer.from('user.inner'), Buffer.from('1'));
  file('read-only', 'r', [['user.ro', 'kept']]);
  chmodSync(path.join(root, 'read-only'), 0o444);
  symlinkSync('f', path.join(root, 'link'));
  execFileSync('mkfifo', [path.join(root, 'fifo')]);
  if (isRoot) {
    // only root may set these; restic 0.14 records every namespace it can list
    file('privileged', 'p', [
      ['trusted.t', 'tt'],
      ['security.s', 'ss'],
      ['user.u', 'uu'],
    ]);
    setXattr(path.join(root, 'fifo'), Buffer.from('trusted.fifo'), Buffer.from('ff'));
    // restic 0.14 does not record symlinks' attributes
    setXattr(path.join(root, 'link'), Buffer.from('trusted.link'), Buffer.from('ll'));
  }
}

async function oursOk(args: string[]): Promise<string> {
  const r = await ours(args, env);
  if (r.code !== 0) throw new Error(`restic-ts ${args.join(' ')} exited ${r.code}:\n${r.stderr}\n${r.stdout}`);
  return r.stdout;
}



describe.skipIf(!support.available && !process.env.CI)('extended attributes: cross-tests with restic 0.14', () => {
  let dir: ReturnType<typeof tempDir>;
  let src: string;
  let expected: XattrListing;

  beforeAll(() => {
    if (!support.available) throw new Error(`the xattr addon is required in CI: ${support.reason}`);
    dir = tempDir('rts-xattr-');
    src = path.join(dir.path, 'src');
    makeSource(src);
    expected = listXattrs(src);
    // the fixture really carries what the tests are about
    expect(expected['f'].map(([n]) => Buffer.from(n, 'hex').toString())).toEqual(['user.zeta', 'user.alpha', 'user.empty', 'user.text "quoted" <&> ü']);
    expect(expected['sub'].length).toBe(1);
  });
  afterAll(() => dir?.cleanup());

  it('restic then restic-ts into one repository: the same tree blobs, no new ones', async () => {
    const repo = path.join(dir.path, 'repo-restic-first');
    await makeResticRepo(repo);
    restic(['backup', src], { repo });
    const theirs = latestSnapshot(repo);
    const theirTree = subtreeOf(repo, theirs.tree, src);
    const tree = JSON.parse(restic(['cat', 'blob', theirTree], { repo }).stdout) as { nodes: { name: string; extended_attributes?: unknown[] }[] };
    const attrCount = Object.fromEntries(tree.nodes.map((n) => [n.name, n.extended_attributes?.length ?? 0]));
    expect(attrCount).toMatchObject({ f: 4, plain: 0, many: 40, sub: 1, link: 0, 'read-only': 1, ...(isRoot ? { privileged: 3, fifo: 1 } : {}) });
    const before = blobIds(repo, 'tree');

    await oursOk(['-r', repo, 'backup', '--force', src]);
    const mine = latestSnapshot(repo);
    expect(mine.id).not.toBe(theirs.id);
    expect(subtreeOf(repo, mine.tree, src)).toBe(theirTree);
    expect(subtreeOf(repo, mine.tree, path.join(src, 'sub'))).toBe(subtreeOf(repo, theirs.tree, path.join(src, 'sub')));
    // only the trees above src (whose directories' times moved) may be new
    const added = [...blobIds(repo, 'tree')].filter((id) => !before.has(id));
    expect(added.length).toBeLessThanOrEqual(src.split('/').filter((c) => c).length);
    restic(['check', '--read-data'], { repo });
  });

  it('restic-ts then restic: restic writes the same tree blob; restic restores the xattrs', async () => {
    const repo = path.join(dir.path, 'repo-ours-first');
    await makeResticRepo(repo);
    await oursOk(['-r', repo, 'backup', src]);
    const mine = latestSnapshot(repo);
    restic(['backup', '--force', src], { repo });
    const theirs = latestSnapshot(repo);
    expect(subtreeOf(repo, theirs.tree, src)).toBe(subtreeOf(repo, mine.tree, src));
    restic(['check', '--read-data'], { repo });

    const target = path.join(dir.path, 'restored-by-restic');
    restic(['restore', mine.id, '--target', target], { repo });
    expect(sorted(listXattrs(path.join(target, src)))).toEqual(afterRestore(expected));
  });

  it('restic backs up, restic-ts restores the xattrs (files, read-only files, directories, fifos)', async () => {
    const repo = path.join(dir.path, 'repo-restore');
    await makeResticRepo(repo);
    restic(['backup', src], { repo });
    const theirs = latestSnapshot(repo);
    const target = path.join(dir.path, 'restored-by-us');
    await oursOk(['-r', repo, 'restore', theirs.id, '--target', target]);
    expect(sorted(listXattrs(path.join(target, src)))).toEqual(afterRestore(expected));
  });
});
