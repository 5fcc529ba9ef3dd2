/**
 * Runs restic-ts's CLI in-process (main() with captured streams), for cross-tests against
 * the real restic binary.
 */
import { main } from '../../src/cli/main.js';
import { BufferSink } from '../../src/cli/output.js';

export interface OursRun {
  code: number;
  stdout: string;
  stderr: string;
  stdoutBytes: Buffer;
}

export async function ours(args: string[], env: Record<string, string | undefined> = {}): Promise<OursRun> {
  const stdout = new BufferSink();
  const stderr = new BufferSink();
  const code = await main(args, {
    stdout,
    stderr,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
    readLine: async () => undefined,
  });
  return { code, stdout: stdout.text(), stderr: stderr.text(), stdoutBytes: stdout.bytes() };
}
