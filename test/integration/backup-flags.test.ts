/**
 * Backup flags against the real restic: the same tree backed up with the same exclude options
 * by restic and by restic-ts gives the same file list; --tag/--host/--time/--stdin/--dry-run
 * land in the snapshot as restic writes them.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ours } from '../support/cli.js';
import { restic, tempDir, TEST_PASSWORD } from '../support/restic.js';

const env = { RESTIC_PASSWORD: TEST_PASSWORD, TZ: 'UTC' };

function lsPaths(repo: string, snapshot: string): string[] {
  return restic(['ls', '--json', snapshot], { repo })
    .stdout.split('\n')
    .filter((l) => l.includes('"struct_type":"node"'))
    .map((l) => (JSON.parse(l) as { path: string }).path)
    .sort();
}

function snapshots(repo: string): { id: string; time: string; hostname: string; tags?: string[]; paths: string[] }[] {
  const list = JSON.parse(restic(['snapshots', '--json'], { repo }).stdout) as { id: string; time: string; hostname: string; tags?: string[]; paths: string[] }[];
  return list.sort((a, b) => (a.time < b.time ? -1 : 1));
}

describe('backup flags match restic', () => {
  let dir: ReturnType<typeof tempDir>;
  let src: string;
  beforeAll(() => {
    dir = tempDir('rts-flags-');
    src = path.join(dir.path, 'src');
    const files: Record<string, string> = {
      'keep.txt': 'k',
      'drop.tmp': 'd',
      'Photo.JPG': 'p',
      'big.bin': 'x'.repeat(5000),
      'sub/keep2.txt': 'k2',
      'sub/deep/x.tmp': 't',
      'sub/deep/y.txt': 'y',
      'cachedir/CACHEDIR.TAG': 'Signature: 8a477f597d28d172789f06886806bc55\n',
      'cachedir/data': 'cache data',
      'marked/.nobackup': '',
      'marked/inside': 'i',
      'node_modules/pkg/index.js': 'js',
      'other/node_modules/a': 'a',
    };
    for (const [rel, content] of Object.entries(files)) {
      mkdirSync(path.dirname(path.join(src, rel)), { recursive: true });
      writeFileSync(path.join(src, rel), content);
    }
    writeFileSync(path.join(dir.path, 'excludes.txt'), '# comment\n\nnode_modules\n');
  });
  afterAll(() => dir.cleanup());

  it('exclude options select the same files', async () => {
    const repo = path.join(dir.path, 'repo');
    restic(['init'], { repo });
    const flags = [
      '--exclude', '*.tmp',
      '--exclude', `${src}/sub/deep/y.txt`,
      '--iexclude', '*.jpg',
      '--exclude-file', path.join(dir.path, 'excludes.txt'),
      '--exclude-caches',
      '--exclude-if-present', '.nobackup',
      '--exclude-larger-than', '1k',
    ];
    restic(['backup', ...flags, src], { repo });
    const r = await ours(['-r', repo, 'backup', '--force', ...flags, src], env);
    expect(r.code, r.stderr).toBe(0);
    const [theirs, mine] = snapshots(repo);
    const expected = lsPaths(repo, theirs.id);
    expect(expected).toContain(`${src}/keep.txt`);
    expect(expected).not.toContain(`${src}/drop.tmp`);
    expect(lsPaths(repo, mine.id)).toEqual(expected);
    // both record the --exclude patterns (restic 0.14: not the lines of --exclude-file)
    const snap = JSON.parse(restic(['cat', 'snapshot', mine.id], { repo }).stdout) as { excludes?: string[] };
    expect(snap.excludes).toEqual(['*.tmp', `${src}/sub/deep/y.txt`]);
    const theirSnap = JSON.parse(restic(['cat', 'snapshot', theirs.id], { repo }).stdout) as { excludes?: string[] };
    expect(snap.excludes).toEqual(theirSnap.excludes);
  });

  it('--stdin --stdin-filename through the CLI', async () => {
    const repo = path.join(dir.path, 'repo-stdin');
    expect((await ours(['-r', repo, 'init'], env)).code).toBe(0);
    const projectRoot = path.resolve(import.meta.dirname, '..', '..');
    const data = Buffer.alloc(3 * 1024 * 1024 + 17, 'restic-ts stdin ');
    const r = spawnSync(process.execPath, ['--import', 'tsx', path.join(projectRoot, 'src/cli/bin.ts'), '-r', repo, '--json', 'backup', '--stdin', '--stdin-filename', 'db.dump'], {
      cwd: projectRoot,
      env: { ...process.env, ...env },
      input: data,
    });
    expect(r.status, r.stderr.toString()).toBe(0);
    const summary = JSON.parse(r.stdout.toString().trim().split('\n').pop()!);
    expect(summary).toMatchObject({ message_type: 'summary', files_new: 1, total_bytes_processed: data.length });
    const [sn] = snapshots(repo);
    expect(sn.paths).toEqual(['/db.dump']);
    expect(Buffer.compare(restic(['dump', 'latest', '/db.dump'], { repo }).stdoutBytes, data)).toBe(0);
    restic(['check', '--read-data'], { repo });
  });

  it('--tag, --host, --time and --dry-run', async () => {
    const repo = path.join(dir.path, 'repo2');
    expect((await ours(['-r', repo, 'init'], env)).code).toBe(0);
    const dry = await ours(['-r', repo, 'backup', '--dry-run', src], env);
    expect(dry.code, dry.stderr).toBe(0);
    expect(snapshots(repo)).toHaveLength(0);
    const r = await ours(['-r', repo, 'backup', '--tag', 'a,b', '--tag', 'c', '--host', 'myhost', '--time', '2020-01-02 03:04:05', src], env);
    expect(r.code, r.stderr).toBe(0);
    const [sn] = snapshots(repo);
    expect(sn).toMatchObject({ hostname: 'myhost', tags: ['a', 'b', 'c'], paths: [src] });
    expect(sn.time).toBe('2020-01-02T03:04:05Z');
    restic(['check', '--read-data'], { repo });
    // the next backup with the same host and paths uses that snapshot as parent
    const again = await ours(['-r', repo, 'backup', '--host', 'myhost', src], env);
    expect(again.stdout).toMatch(/using parent snapshot/);
  });
});
