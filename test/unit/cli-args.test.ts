import { describe, expect, it } from 'vitest';
import { parseArgs, type FlagSpec } from '../../src/cli/args.js';
import { globalOptionsFrom, GLOBAL_FLAGS } from '../../src/cli/global-options.js';
import { indentJson, renderTable } from '../../src/cli/output.js';
import { splitShellWords } from '../../src/cli/password.js';
import { resticErrorMessage } from '../support/errors.js';

const specs: FlagSpec[] = [
  { name: 'repo', short: 'r', kind: 'string', env: 'RESTIC_REPOSITORY', description: '' },
  { name: 'json', kind: 'boolean', description: '' },
  { name: 'verbose', short: 'v', kind: 'count', description: '' },
  { name: 'quiet', short: 'q', kind: 'boolean', description: '' },
  { name: 'tag', kind: 'strings', description: '' },
  { name: 'latest', kind: 'int', description: '' },
];

const usageError = (fn: () => unknown): string => resticErrorMessage(fn, 'USAGE');

describe('parseArgs', () => {
  it('reads long flags with a separate or attached value, and positionals anywhere', () => {
    const r = parseArgs(['snapshots', '--repo', '/a', 'x', '--latest=3', '--json', 'y'], specs);
    expect(r.positionals).toEqual(['snapshots', 'x', 'y']);
    expect(r.flags.string('repo')).toBe('/a');
    expect(r.flags.int('latest')).toBe(3);
    expect(r.flags.boolean('json')).toBe(true);
  });

  it('reads short flags: -r value, -rvalue, -r=value, grouped counters', () => {
    expect(parseArgs(['-r', '/a'], specs).flags.string('repo')).toBe('/a');
    expect(parseArgs(['-r/b'], specs).flags.string('repo')).toBe('/b');
    expect(parseArgs(['-r=/c'], specs).flags.string('repo')).toBe('/c');
    const g = parseArgs(['-vvq', '-v'], specs);
    expect(g.flags.count('verbose')).toBe(3);
    expect(g.flags.boolean('quiet')).toBe(true);
    expect(parseArgs(['--verbose=2'], specs).flags.count('verbose')).toBe(2);
    expect(parseArgs(['-vr', '/d'], specs).flags.string('repo')).toBe('/d');
  });

  it('collects repeated string flags in order', () => {
    expect(parseArgs(['--tag', 'a,b', '--tag=c'], specs).flags.strings('tag')).toEqual(['a,b', 'c']);
  });

  it('stops at -- and keeps later dashes as positionals', () => {
    const r = parseArgs(['--json', '--', '--repo', '-v'], specs);
    expect(r.positionals).toEqual(['--repo', '-v']);
    expect(r.flags.string('repo')).toBeUndefined();
  });

  it('falls back to the environment, the command line wins', () => {
    const env = { RESTIC_REPOSITORY: '/from-env' };
    expect(parseArgs([], specs, { env }).flags.string('repo')).toBe('/from-env');
    const r = parseArgs(['-r', '/cli'], specs, { env });
    expect(r.flags.string('repo')).toBe('/cli');
    expect(r.flags.given('repo')).toBe(true);
  });

  it('stopAtPositional returns the command name and the untouched rest', () => {
    const r = parseArgs(['-r', '/a', 'cat', '--weird', 'config'], specs, { stopAtPositional: true });
    expect(r.positionals).toEqual(['cat']);
    expect(r.rest).toEqual(['--weird', 'config']);
  });

  it('rejects unknown flags, missing values and bad numbers as USAGE', () => {
    expect(usageError(() => parseArgs(['--bogus'], specs))).toBe('unknown flag: --bogus');
    expect(usageError(() => parseArgs(['-x'], specs))).toMatch(/unknown shorthand flag: 'x'/);
    expect(usageError(() => parseArgs(['--repo'], specs))).toMatch(/flag needs an argument: --repo/);
    expect(usageError(() => parseArgs(['--latest', 'many'], specs))).toMatch(/invalid argument "many" for --latest/);
    expect(usageError(() => parseArgs(['--json=maybe'], specs))).toMatch(/invalid argument "maybe" for --json/);
  });
});

describe('global options', () => {
  it('parses -o key=value pairs and the compression mode', async () => {
    const r = parseArgs(['-o', 's3.region=eu', '--option=s3.bucket-lookup=path', '--compression', 'max'], GLOBAL_FLAGS);
    const g = await globalOptionsFrom(r.flags);
    expect(g.extendedOptions).toEqual({ 's3.region': 'eu', 's3.bucket-lookup': 'path' });
    expect(g.compression).toBe('max');
  });

  it('rejects a malformed -o and an unknown compression mode', async () => {
    await expect(globalOptionsFrom(parseArgs(['-o', 'novalue'], GLOBAL_FLAGS).flags)).rejects.toMatchObject({ code: 'USAGE' });
    await expect(globalOptionsFrom(parseArgs(['--compression', 'huge'], GLOBAL_FLAGS).flags)).rejects.toMatchObject({ code: 'USAGE' });
  });

  it('takes the repository from the environment', async () => {
    const g = await globalOptionsFrom(parseArgs([], GLOBAL_FLAGS, { env: { RESTIC_REPOSITORY: '/r', RESTIC_KEY_HINT: 'ab' } }).flags);
    expect(g.repository).toBe('/r');
    expect(g.keyHint).toBe('ab');
  });
});

describe('output helpers', () => {
  it('indents JSON like Go json.MarshalIndent', () => {
    expect(indentJson('{"a":[],"b":{},"c":[1,{"d":"x,:{"}],"e":"q\\"}"}')).toBe(
      '{\n  "a": [],\n  "b": {},\n  "c": [\n    1,\n    {\n      "d": "x,:{"\n    }\n  ],\n  "e": "q\\"}"\n}',
    );
  });

  it('renders tables like restic (byte widths, trimmed lines, footer)', () => {
    const text = renderTable(
      [
        { header: 'ID', cell: (r: { id: string; p: string[] }) => r.id },
        { header: 'Paths', cell: (r) => r.p.join('\n') },
      ],
      [
        { id: 'ab', p: ['/x', '/yy'] },
        { id: 'cdef', p: ['/z'] },
      ],
      { footer: ['2 snapshots'], blankLineBetweenRows: true },
    );
    expect(text).toBe('ID    Paths\n-----------\nab    /x\n      /yy\n\ncdef  /z\n-----------\n2 snapshots\n');
  });

  it('splits a password command like a shell', () => {
    expect(splitShellWords(`echo "a b" 'c d' e\\ f`)).toEqual(['echo', 'a b', 'c d', 'e f']);
  });
});

describe('main() dispatch without a repository', () => {
  const run = async (args: string[]) => {
    const { main } = await import('../../src/cli/main.js');
    const { BufferSink } = await import('../../src/cli/output.js');
    const stdout = new BufferSink();
    const stderr = new BufferSink();
    const code = await main(args, { stdout, stderr, env: {} });
    return { code, stdout: stdout.text(), stderr: stderr.text() };
  };

  it('prints help and version', async () => {
    expect((await run([])).stdout).toContain('Available Commands:');
    expect((await run(['help', 'snapshots'])).stdout).toContain('restic-ts snapshots [flags]');
    expect((await run(['snapshots', '--help'])).stdout).toContain('--group-by');
    const v = await run(['version']);
    expect(v.code).toBe(0);
    expect(v.stdout).toMatch(/^restic-ts /);
  });

  it('unknown command, unknown flag, bad --group-by, missing repository: USAGE with restic-style messages', async () => {
    const unknown = await run(['frobnicate']);
    expect(unknown.code).toBe(24);
    expect(unknown.stderr).toMatch(/^Fatal: unknown command "frobnicate"/);
    const flag = await run(['snapshots', '--bogus', '--json']);
    expect(flag.code).toBe(24);
    const lines = flag.stderr.trim().split('\n');
    expect(lines[0]).toBe('Fatal: unknown flag: --bogus');
    expect(JSON.parse(lines[1])).toEqual({ message_type: 'exit_error', code: 24, message: 'unknown flag: --bogus', error_code: 'USAGE' });
    const group = await run(['snapshots', '--group-by', 'colour', '-r', '/nonexistent']);
    expect(group.stderr).toBe("Fatal: unknown grouping option: 'colour'\n");
    const noRepo = await run(['list', 'snapshots']);
    expect(noRepo.stderr).toBe('Fatal: Please specify repository location (-r or --repository-file)\n');
    const cat = await run(['cat', 'index', 'xyz', '-r', '/nonexistent']);
    expect(cat.stderr).toBe('Fatal: unable to parse ID: invalid length for hash\n');
  });
});
