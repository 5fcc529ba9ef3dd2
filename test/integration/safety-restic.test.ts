/**
 * Data safety judged by the real restic: a repository made by restic 0.14 (three backups, the
 * first forgotten), then our maintenance run on a real local directory with a fault-injecting
 * wrapper around the local backend. After every partial failure `restic check --read-data`
 * must pass, and after a clean re-run too. Dry runs must leave every file as it was (and no
 * lock behind).
 */
import { cpSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openBackend } from '../../src/backend/open.js';
import { isResticError } from '../../src/errors.js';
import { planPrune } from '../../src/maintenance/prune.js';
import { applyPrunePlan } from '../../src/maintenance/prune-apply.js';
import { repairIndex } from '../../src/maintenance/repair-index.js';
import { acquireLock, lockStoreFor } from '../../src/repository/lock.js';
import { Repository } from '../../src/repository/repository.js';
import { ours } from '../support/cli.js';
import { makeResticRepo, passwordFile, restic, tempDir, TEST_PASSWORD } from '../support/restic.js';
import { FaultBackend, permissionError } from '../unit/safety-support.js';

const tmp = tempDir('restic-ts-safety-');
afterAll(() => tmp.cleanup());
const pw = passwordFile(tmp.path);
const base = join(tmp.path, 'base');
let counter = 0;

beforeAll(async () => {
  await makeResticRepo(base);
  const src = join(tmp.path, 'src');
  mkdirSync(join(src, 'dir'), { recursive: true });
  writeFileSync(join(src, 'shared.txt'), 'kept in every snapshot\n'.repeat(2000));
  for (let i = 0; i < 3; i++) {
    writeFileSync(join(src, 'dir', `file-${i}.bin`), Buffer.alloc(300_000 + i * 1000, i + 1));
    if (i > 0) writeFileSync(join(src, 'dir', `file-${i - 1}.bin`), Buffer.alloc(10, 9)); // earlier content becomes unused
    restic(['backup', '-q', '--host', 'safety', src], { repo: base });
  }
  const ids = JSON.parse(restic(['snapshots', '--json'], { repo: base }).stdout) as { id: string }[];
  restic(['forget', '-q', ids[0].id], { repo: base });
}, 120_000);

function freshCopy(): string {
  const repo = join(tmp.path, `repo-${counter++}`);
  cpSync(base, repo, { recursive: true });
  return repo;
}

function resticCheck(repo: string): void {
  const r = restic(['check', '--read-data'], { repo, check: false });
  expect(r.stdout).toMatch(/no errors were found/);
  expect(r.stderr).not.toMatch(/error|Fatal|warning/i);
  expect(r.code).toBe(0);
}

/** Every file below `repo` with its size (lock files separately). */
function listing(repo: string): { files: string[]; locks: string[] } {
  const files: string[] = [];
  const locks: string[] = [];
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      const p = join(dir, name);
      const st = statSync(p);
      if (st.isDirectory()) walk(p);
      else (relative(repo, p).startsWith('locks/') ? locks : files).push(`${relative(repo, p)} ${st.size}`);
    }
  };
  walk(repo);
  return { files: files.sort(), locks };
}

async function openFaulty(repo: string): Promise<{ faults: FaultBackend; repository: Repository }> {
  const faults = new FaultBackend(await openBackend(repo));
  return { faults, repository: await Repository.open({ backend: faults, password: TEST_PASSWORD }) };
}

describe('partial failures leave a repository restic accepts', () => {
  it('prune whose first old-index delete fails stops before deleting packs; restic check passes; a re-run finishes', async () => {
    const repo = freshCopy();
    const { faults, repository } = await openFaulty(repo);
    await repository.loadIndex();
    const plan = await planPrune(repository, { maxUnused: { kind: 'bytes', bytes: 0 } });
    expect(plan.repackPacks.size + plan.removePacks.size).toBeGreaterThan(0);
    faults.rules = [{ op: 'remove', type: 'index', nth: 1, error: permissionError }];
    const err = await applyPrunePlan(repository, plan).catch((e: unknown) => e);
    expect(isResticError(err, 'FATAL')).toBe(true);
    expect(faults.removed('pack').filter((id) => plan.repackPacks.has(id) || plan.removePacks.has(id))).toEqual([]);
    await repository.close();
    resticCheck(repo);
    const again = await ours(['-r', repo, '--password-file', pw, 'prune', '--max-unused', '0']);
    expect(again.stderr).toBe('');
    expect(again.code).toBe(0);
    resticCheck(repo);
  }, 120_000);

  it('repair index that cannot read one pack header aborts; restic check passes and restic prune finds nothing unreferenced', async () => {
    const repo = freshCopy();
    const { faults, repository } = await openFaulty(repo);
    const packs: string[] = [];
    for await (const f of faults.inner.list('pack')) packs.push(f.name);
    faults.rules = [{ op: 'read', type: 'pack', name: packs[0], error: permissionError }];
    const before = listing(repo);
    await expect(repairIndex(repository, { readAllPacks: true })).rejects.toSatisfy(isResticError);
    await repository.close();
    expect(listing(repo).files).toEqual(before.files);
    resticCheck(repo);
    const dry = restic(['prune', '--dry-run', '-v'], { repo });
    expect(dry.stdout).not.toMatch(/unused and not indexed/);
  }, 120_000);
});

describe('dry runs write nothing', () => {
  const cases: [string, string[]][] = [
    ['prune --dry-run', ['prune', '--dry-run', '--max-unused', '0']],
    ['forget --keep-last 1 --dry-run', ['forget', '--keep-last', '1', '--dry-run']],
    ['forget --keep-last 1 --prune --dry-run', ['forget', '--keep-last', '1', '--prune', '--dry-run']],
    ['repair snapshots --forget --dry-run', ['repair', 'snapshots', '--forget', '--dry-run']],
  ];
  for (const [name, args] of cases) {
    it(`${name}: every file as before, no lock left`, async () => {
      const repo = freshCopy();
      const before = listing(repo);
      const r = await ours(['-r', repo, '--password-file', pw, ...args]);
      expect(r.code).toBe(0);
      const after = listing(repo);
      expect(after.files).toEqual(before.files);
      expect(after.locks).toEqual([]);
      resticCheck(repo);
    }, 60_000);
  }
});

describe('deleting commands take an exclusive lock', () => {
  const cases: [string, string[]][] = [
    ['prune', ['prune', '--max-unused', '0']],
    ['forget --keep-last 1', ['forget', '--keep-last', '1']],
    ['forget --keep-last 1 --prune', ['forget', '--keep-last', '1', '--prune']],
    ['tag --add x', ['tag', '--add', 'x']],
    ['repair index', ['repair', 'index']],
    ['rebuild-index', ['rebuild-index']],
    ['repair snapshots --forget', ['repair', 'snapshots', '--forget']],
    ['key passwd', ['key', 'passwd', '--new-password-file', pw]],
  ];
  for (const [name, args] of cases) {
    it(`${name} refuses (exit 11) while another client holds a shared lock, and changes nothing`, async () => {
      const repo = freshCopy();
      const other = await Repository.open({ backend: await openBackend(repo), password: TEST_PASSWORD });
      // a backup running on another machine: a fresh shared lock from a host that is not ours
      const lock = await acquireLock(lockStoreFor(other), { exclusive: false, hostname: 'another-host', waitMs: 0 });
      try {
        const before = listing(repo);
        const r = await ours(['-r', repo, '--password-file', pw, ...args]);
        expect(r.stderr).toMatch(/repository is already locked by PID \d+ on another-host/);
        expect(r.code).toBe(11);
        const after = listing(repo);
        expect(after.files).toEqual(before.files);
        expect(after.locks).toEqual(before.locks);
      } finally {
        await lock.release();
        await other.close();
      }
      resticCheck(repo);
    }, 60_000);
  }
});
