/**
 * The `restic-ts` executable as npm installs it: package.json's bin names the compiled bin.ts,
 * which tunes V8 and then runs the CLI with the process's argv, streams and exit code.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { exitCodeFor } from '../../src/errors.js';

const projectRoot = path.resolve(import.meta.dirname, '..', '..');
const pkg = JSON.parse(readFileSync(path.join(projectRoot, 'package.json'), 'utf8')) as { bin: Record<string, string> };

/** The TypeScript source of a compiled file under dist/. */
function sourceOf(distPath: string): string {
  return path.join(projectRoot, distPath.replace(/^\.\/dist\//, 'src/').replace(/\.js$/, '.ts'));
}

function runBin(args: string[]) {
  return spawnSync(process.execPath, ['--import', 'tsx', sourceOf(pkg.bin['restic-ts']!), ...args], { cwd: projectRoot, encoding: 'utf8' });
}

describe('restic-ts bin entry', () => {
  it('package.json names bin.ts compiled, and it exists', () => {
    expect(pkg.bin['restic-ts']).toBe('./dist/cli/bin.js');
    expect(existsSync(sourceOf(pkg.bin['restic-ts']!))).toBe(true);
  });

  it('runs a command with the process argv and exits 0', () => {
    const r = runBin(['version']);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/^restic-ts \d+\.\d+\.\d+ running on Node\.js v/);
    expect(r.status).toBe(0);
  });

  it('turns an error into Fatal: and its exit code', () => {
    const r = runBin(['no-such-command']);
    expect(r.stderr).toContain('Fatal: unknown command "no-such-command"');
    expect(r.status).toBe(exitCodeFor('USAGE'));
  });
});
