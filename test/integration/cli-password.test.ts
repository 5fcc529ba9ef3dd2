/**
 * Where the CLI takes the repository and password from (restic's sources and precedence),
 * on a copy of the example repository in fixtures/ whose key is swapped for a cheap-scrypt
 * one (the fixture's key, N=32768 p=5, costs ~1 s per open on a loaded 2-core machine).
 */
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exitCodeFor } from '../../src/errors.js';
import { ours } from '../support/cli.js';
import { cheapenKeys, tempDir } from '../support/restic.js';

const root = resolve(import.meta.dirname, '..', '..');
const pwFile = join(root, 'fixtures', 'example-repo.password');
const password = readFileSync(pwFile, 'utf8').trim();
const tmp = tempDir('restic-ts-cli-password-');
afterAll(() => tmp.cleanup());
const repo = join(tmp.path, 'example-repo');
beforeAll(async () => {
  cpSync(join(root, 'fixtures', 'example-repo'), repo, { recursive: true });
  await cheapenKeys(repo, [password]);
});

const listsThree = (stdout: string): void => expect((JSON.parse(stdout) as unknown[]).length).toBe(3);

describe('repository and password sources', () => {
  it('RESTIC_REPOSITORY + RESTIC_PASSWORD', async () => {
    const r = await ours(['--no-lock', 'snapshots', '--json'], { RESTIC_REPOSITORY: repo, RESTIC_PASSWORD: password });
    expect(r.stderr).toBe('');
    listsThree(r.stdout);
  });

  it('RESTIC_PASSWORD_FILE and --repository-file', async () => {
    const repoFile = join(tmp.path, 'repo.txt');
    writeFileSync(repoFile, repo + '\n');
    const r = await ours(['--repository-file', repoFile, '--no-lock', 'snapshots', '--json'], { RESTIC_PASSWORD_FILE: pwFile });
    expect(r.stderr).toBe('');
    listsThree(r.stdout);
  });

  it('--password-command, which wins over RESTIC_PASSWORD', async () => {
    const r = await ours(['-r', repo, '--password-command', `cat ${pwFile}`, '--no-lock', 'snapshots', '--json'], { RESTIC_PASSWORD: 'wrong' });
    expect(r.stderr).toBe('');
    listsThree(r.stdout);
  });

  it('a failing password command, a missing or empty password file, file and command together: USAGE/FATAL, nothing opened', async () => {
    const failing = await ours(['-r', repo, '--password-command', 'false', 'snapshots']);
    expect(failing.code).toBe(exitCodeFor('FATAL'));
    expect(failing.stderr).toMatch(/--password-command "false" exited with status 1/);

    const missing = await ours(['-r', repo, '-p', join(tmp.path, 'nope.txt'), 'snapshots']);
    expect(missing.code).toBe(exitCodeFor('USAGE'));
    expect(missing.stderr).toBe(`Fatal: ${join(tmp.path, 'nope.txt')} does not exist\n`);

    const emptyFile = join(tmp.path, 'empty.txt');
    writeFileSync(emptyFile, '\n');
    const empty = await ours(['-r', repo, '-p', emptyFile, 'snapshots']);
    expect(empty.code).toBe(exitCodeFor('USAGE'));

    const both = await ours(['-r', repo, '-p', pwFile, '--password-command', 'true', 'snapshots']);
    expect(both.code).toBe(exitCodeFor('USAGE'));
    expect(both.stderr).toBe('Fatal: Password file and command are mutually exclusive options\n');

    const none = await ours(['-r', repo, 'snapshots']);
    expect(none.code).toBe(exitCodeFor('USAGE'));
    expect(none.stderr).toMatch(/no password given/);
  });

  it('--key-hint that matches no key is ignored, as restic does', async () => {
    const r = await ours(['-r', repo, '-p', pwFile, '--key-hint', 'ffffffff', '--no-lock', 'snapshots', '--json']);
    expect(r.code).toBe(0);
    listsThree(r.stdout);
  });
});
