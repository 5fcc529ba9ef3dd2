/**
 * The xattr addon and its TypeScript side on real files in the temp directory: round trips
 * of binary, empty and large values and of names that are not UTF-8, symlinks never
 * followed, errno codes, the tree encoding of what is read, and restore's metadata step.
 * Needs the native addon (built by `npm ci`): in CI a missing addon fails these tests.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addExtendedAttributes } from '../../src/archiver/fs-node.js';
import { GoTime } from '../../src/format/gotime.js';
import { encodeTree, newNode, type TreeNode } from '../../src/format/node.js';
import { readExtendedAttributes, writeExtendedAttributes, xattrSupport, type XattrError } from '../../src/platform/xattr.js';
import { restoreMetadataSync } from '../../src/restorer/metadata.js';

const support = xattrSupport();
const addonDir = fileURLToPath(new URL('../../src/platform/xattr/', import.meta.url));

function errorOf(fn: () => unknown): XattrError {
  try {
    fn();
  } catch (err) {
    return err as XattrError;
  }
  throw new Error('expected an error');
}

function nodeOf(type: TreeNode['type'], name = 'x'): TreeNode {
  const t = GoTime.parse('2024-05-06T07:08:09.123456789Z');
  return newNode({ name: Buffer.from(name), type, mode: type === 'dir' ? 0x80000000 | 0o755 : 0o644, mtime: t, atime: t, ctime: t });
}

describe.skipIf(!support.available && !process.env.CI)('xattr addon', () => {
  let dir: string;
  let file: string;

  beforeAll(() => {
    if (!support.available) throw new Error(`the xattr addon is required in CI: ${support.reason}`);
    dir = mkdtempSync(path.join(tmpdir(), 'rts-xattr-unit-'));
    file = path.join(dir, 'file');
    writeFileSync(file, 'content');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('round-trips binary, empty and large values in the listing order', () => {
    const binary = Uint8Array.from({ length: 256 }, (_, i) => i);
    writeExtendedAttributes(file, [
      { name: 'user.second', value: binary },
      { name: 'user.empty', value: new Uint8Array(0) },
      { name: 'user.null', value: null },
      { name: 'user.large', value: new Uint8Array(2500).fill(0x61) },
    ]);
    const attrs = readExtendedAttributes(file);
    expect(attrs.map((a) => a.name).sort()).toEqual(['user.empty', 'user.large', 'user.null', 'user.second']);
    const byName = Object.fromEntries(attrs.map((a) => [a.name, a.value]));
    expect(Buffer.from(byName['user.second']!)).toEqual(Buffer.from(binary));
    // an empty value is an empty array (encoded "" like restic), never null
    expect(byName['user.empty']).toEqual(Buffer.alloc(0));
    expect(byName['user.null']).toEqual(Buffer.alloc(0));
    expect(byName['user.large']!.length).toBe(2500);
    // the same order as the kernel's listing, as a string path and as bytes
    expect(readExtendedAttributes(Buffer.from(file)).map((a) => a.name)).toEqual(attrs.map((a) => a.name));
  });

  it('lists more than the first 1 KiB read holds', () => {
    const many = path.join(dir, 'many');
    writeFileSync(many, '');
    const names = Array.from({ length: 60 }, (_, i) => `user.a-fairly-long-attribute-name-${String(i).padStart(3, '0')}`);
    writeExtendedAttributes(many, names.map((name, i) => ({ name, value: Buffer.from(String(i)) })));
    const attrs = readExtendedAttributes(many);
    expect(attrs.map((a) => a.name).sort()).toEqual(names);
    expect(attrs.find((a) => a.name === names[42])!.value).toEqual(Buffer.from('42'));
  });

  it('keeps a name that is not UTF-8 as Go does: the tree writes \\ufffd per bad byte', () => {
    const f = path.join(dir, 'bad-name');
    writeFileSync(f, '');
    const rawName = Buffer.from([0x75, 0x73, 0x65, 0x72, 0x2e, 0xff, 0xfe, 0x41]); // user.\xff\xfeA
    const py = spawnSync('python3', ['-c', 'import os,sys; os.setxattr(sys.argv[1], bytes.fromhex(sys.argv[2]), b"v")', f, rawName.toString('hex')]);
    if (py.status !== 0) throw new Error(`python3 could not set the attribute: ${py.stderr}`);
    const [attr] = readExtendedAttributes(f);
    expect(attr.value).toEqual(Buffer.from('v'));
    const node = nodeOf('file');
    node.extendedAttributes = [attr];
    const json = Buffer.from(encodeTree([node])).toString();
    expect(json).toContain('"extended_attributes":[{"name":"user.\\ufffd\\ufffdA","value":"dg=="}]');
  });

  it('never follows a symlink: reads and writes act on the link itself', () => {
    const target = path.join(dir, 'target');
    const link = path.join(dir, 'link');
    writeFileSync(target, '');
    writeExtendedAttributes(target, [{ name: 'user.target', value: Buffer.from('t') }]);
    symlinkSync('target', link);
    expect(readExtendedAttributes(link).map((a) => a.name)).not.toContain('user.target');
    // Linux refuses user.* on symlinks: proof the call reached the link, not its target
    const err = errorOf(() => writeExtendedAttributes(link, [{ name: 'user.on-link', value: Buffer.from('l') }]));
    expect(err.code).toBe('EPERM');
    expect(err.message).toContain(link);
    expect(err.message).toContain('user.on-link');
    expect(readExtendedAttributes(target).map((a) => a.name)).toEqual(['user.target']);
  });

  it('throws with the errno code, the syscall and the path', () => {
    const missing = path.join(dir, 'missing');
    const err = errorOf(() => readExtendedAttributes(missing));
    expect(err).toMatchObject({ code: 'ENOENT', errno: -2, syscall: 'llistxattr', path: missing });
    expect(err.message).toContain(missing);
  });

  it('ignores ENOTSUP when writing, as restic does (here: a namespace Linux does not know)', () => {
    const f = path.join(dir, 'unsupported');
    writeFileSync(f, '');
    expect(() => writeExtendedAttributes(f, [{ name: 'nonamespace.x', value: Buffer.from('1') }, { name: 'user.ok', value: Buffer.from('1') }])).not.toThrow();
    expect(readExtendedAttributes(f)).toEqual([{ name: 'user.ok', value: Buffer.from('1') }]);
  });

  it('tries every attribute and names all that failed; ignore() skips chosen failures', () => {
    const link = path.join(dir, 'link2');
    symlinkSync('file', link);
    const attrs = [
      { name: 'user.a', value: Buffer.from('1') },
      { name: 'user.b', value: Buffer.from('2') },
    ];
    const err = errorOf(() => writeExtendedAttributes(link, attrs));
    expect(err.code).toBe('EPERM');
    expect(err.message).toContain('user.a, user.b');
    expect(() => writeExtendedAttributes(link, attrs, (e) => e.code === 'EPERM')).not.toThrow();
  });

  it('addExtendedAttributes: every node type but symlinks; a failed listing drops the item', () => {
    const f = path.join(dir, 'for-node');
    writeFileSync(f, '');
    writeExtendedAttributes(f, [{ name: 'user.n', value: Buffer.from('1') }]);
    const reports: string[] = [];
    const report = (during: string, err: unknown) => reports.push(`${during}: ${(err as XattrError).code}`);
    const fileNode = nodeOf('file');
    expect(addExtendedAttributes(fileNode, f, report)).toBe(true);
    expect(fileNode.extendedAttributes).toEqual([{ name: 'user.n', value: Buffer.from('1') }]);
    const linkNode = nodeOf('symlink');
    expect(addExtendedAttributes(linkNode, f, report)).toBe(true);
    expect(linkNode.extendedAttributes).toEqual([]);
    expect(addExtendedAttributes(nodeOf('file'), path.join(dir, 'gone'), report)).toBe(false);
    expect(reports).toEqual(['listxattr: ENOENT']);
  });

  it('restoreMetadataSync sets the attributes before chmod: a read-only file keeps them', () => {
    const f = path.join(dir, 'restored');
    writeFileSync(f, '');
    chmodSync(f, 0o600);
    const node = nodeOf('file');
    node.mode = 0o444;
    node.extendedAttributes = [
      { name: 'user.one', value: Buffer.from('1') },
      { name: 'user.empty', value: Buffer.alloc(0) },
    ];
    restoreMetadataSync(node, Buffer.from(f));
    expect(readExtendedAttributes(f)).toEqual([
      { name: 'user.one', value: Buffer.from('1') },
      { name: 'user.empty', value: Buffer.alloc(0) },
    ]);
    const sub = path.join(dir, 'restored-dir');
    mkdirSync(sub);
    const dirNode = nodeOf('dir');
    dirNode.mode = 0x80000000 | 0o555;
    dirNode.extendedAttributes = [{ name: 'user.d', value: Buffer.from('dir') }];
    restoreMetadataSync(dirNode, Buffer.from(sub));
    expect(readExtendedAttributes(sub)).toEqual([{ name: 'user.d', value: Buffer.from('dir') }]);
    chmodSync(sub, 0o755);
  });

  it('restoreMetadataSync reports attributes it could not set as an IO error naming the path', () => {
    const link = path.join(dir, 'restored-link');
    symlinkSync('file', link);
    const node = nodeOf('symlink');
    node.extendedAttributes = [{ name: 'user.l', value: Buffer.from('1') }];
    // root gets EPERM reported; another user has it ignored, as restic does
    if (process.geteuid?.() === 0) {
      expect(() => restoreMetadataSync(node, Buffer.from(link))).toThrow(/cannot restore extended attributes: EPERM.*restored-link.*user\.l/);
    } else {
      expect(() => restoreMetadataSync(node, Buffer.from(link))).not.toThrow();
    }
  });
});

describe('xattr install script', () => {
  it('without a compiler: one warning, exit 0, no addon', () => {
    const scratch = mkdtempSync(path.join(tmpdir(), 'rts-xattr-install-'));
    try {
      // the install step and the addon's sources, laid out as in src/
      copyFileSync(path.join(addonDir, '..', '..', 'build-native-addon.mjs'), path.join(scratch, 'build-native-addon.mjs'));
      mkdirSync(path.join(scratch, 'platform', 'xattr'), { recursive: true });
      for (const f of ['binding.gyp', 'xattr.c']) copyFileSync(path.join(addonDir, f), path.join(scratch, 'platform', 'xattr', f));
      // a PATH with node only: no cc, make or python3
      const bin = path.join(scratch, 'bin');
      mkdirSync(bin);
      symlinkSync(process.execPath, path.join(bin, 'node'));
      const run = spawnSync(process.execPath, [path.join(scratch, 'build-native-addon.mjs'), 'xattr'], {
        encoding: 'utf8',
        env: { PATH: bin, HOME: scratch, TMPDIR: scratch },
        timeout: 60_000,
      });
      expect(run.status).toBe(0);
      const warnings = run.stderr.split('\n').filter((l) => l.includes('restic-ts: warning'));
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toMatch(/the native xattr addon was not built \(.+\); backups will not record extended attributes/);
      expect(existsSync(path.join(scratch, 'platform', 'xattr', 'build', 'Release', 'xattr.node'))).toBe(false);
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  });
});
