/**
 * Restore from S3 (the real radosgw test server): the real restic writes a repository under a
 * prefix; restic-ts's `ls --json`, `dump` and `restore` from it equal restic's own.
 */
import { createHash, randomBytes } from 'node:crypto';
import { lstatSync, mkdirSync, readFileSync, readdirSync, readlinkSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ours } from '../support/cli.js';
import { passwordFile, restic, tempDir, TEST_PASSWORD } from '../support/restic.js';
import { createTestBucket, deleteTestBucket, resticS3Env, resticS3Repository } from '../support/s3.js';

process.env.TZ = 'UTC';

const dir = tempDir('restic-ts-restore-s3-');
const pwFile = passwordFile(dir.path);
let bucket: string;
let repo: string;

/** path → type, mode, mtime (ns), symlink target, content hash. */
function describeTree(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string, rel: string): void => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      const st = lstatSync(p, { bigint: true });
      let extra = '';
      if (st.isSymbolicLink()) extra = readlinkSync(p);
      else if (st.isFile()) extra = createHash('sha256').update(readFileSync(p)).digest('hex');
      out[`${rel}/${name}`] = `${st.mode.toString(8)} ${st.mtimeNs} ${st.size} ${extra}`;
      if (st.isDirectory()) walk(p, `${rel}/${name}`);
    }
  };
  walk(root, '');
  return out;
}

beforeAll(async () => {
  bucket = await createTestBucket({ stem: 'restore' });
  repo = resticS3Repository(bucket, 'restic/repo');
  const src = join(dir.path, 'src');
  mkdirSync(join(src, 'sub', 'empty'), { recursive: true });
  writeFileSync(join(src, 'big.bin'), randomBytes(3 * 1024 * 1024 + 17));
  writeFileSync(join(src, 'sub', 'text.txt'), 'hello from S3\n'.repeat(2000));
  writeFileSync(join(src, 'empty'), '');
  symlinkSync('sub/text.txt', join(src, 'link'));
  restic(['init', '--repository-version', '2'], { repo, env: resticS3Env() });
  restic(['backup', 'src'], { repo, env: resticS3Env(), cwd: dir.path });
});

afterAll(async () => {
  await deleteTestBucket(bucket);
  dir.cleanup();
});

describe('restore side on an S3 repository restic wrote', () => {
  const args = (...rest: string[]): string[] => ['-r', repo, '--password-file', pwFile, '--no-lock', ...rest];
  const theirs = (...rest: string[]) => restic(['--no-lock', ...rest], { repo, password: TEST_PASSWORD, env: resticS3Env() });

  it('ls --json equals restic', async () => {
    const r = await ours(args('ls', '--json', 'latest'), resticS3Env());
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(theirs('ls', '--json', 'latest').stdout);
  });

  it('dump of a file equals restic', async () => {
    const r = await ours(args('dump', 'latest', '/src/big.bin'), resticS3Env());
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdoutBytes.equals(theirs('dump', 'latest', '/src/big.bin').stdoutBytes)).toBe(true);
  });

  it('restore --verify gives the same tree as restic restore', async () => {
    const mine = join(dir.path, 'ours');
    const them = join(dir.path, 'theirs');
    const r = await ours(args('restore', 'latest', '--target', mine, '--verify'), resticS3Env());
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    theirs('restore', 'latest', '--target', them);
    expect(describeTree(mine)).toEqual(describeTree(them));
  });
});
