/**
 * The restic-ts command line: parses global flags, finds the command, runs it, and turns
 * errors into restic-style `Fatal: …` lines and exit codes.
 *
 * `main()` takes its streams and environment as arguments so tests can run the CLI
 * in-process; `runAsProcess()` at the bottom wires it to the real process for bin.ts.
 */
import { createInterface } from 'node:readline';
import type { Backend } from '../backend/backend.js';
import { ResticError, exitCodeFor, isResticError } from '../errors.js';
import type { Repository } from '../repository/repository.js';
import { formatFlagHelp, parseArgs } from './args.js';
import type { Command, CommandContext, HeldLock, OpenRepositoryOptions } from './command.js';
import { COMMANDS, findCommand, opensRepository } from './commands/index.js';
import { GLOBAL_FLAGS, backendOptionsFrom, globalOptionsFrom, type GlobalOptions } from './global-options.js';
import { Output, type Sink } from './output.js';
import { resolvePassword } from './password.js';

export interface MainIO {
  stdout?: Sink;
  stderr?: Sink;
  env?: Readonly<Record<string, string | undefined>>;
  cwd?: string;
  /** Reads one line of password input (prompt on a terminal, or the first line of stdin). */
  readLine?: (prompt: string) => Promise<string | undefined>;
  signal?: AbortSignal;
}

/** Runs the CLI and returns the exit code. Never throws and never calls process.exit. */
export async function main(argv: readonly string[], io: MainIO = {}): Promise<number> {
  const stdout = io.stdout ?? process.stdout;
  const stderr = io.stderr ?? process.stderr;
  const env = io.env ?? process.env;
  let json = argv.includes('--json');
  const cleanups: Array<() => Promise<void> | void> = [];
  try {
    // 1. Global flags before the command name, then the command name itself.
    const head = parseArgs(argv, GLOBAL_FLAGS, { stopAtPositional: true });
    const commandName = head.positionals[0];
    if (commandName === undefined || commandName === 'help') {
      const topic = commandName === 'help' ? head.rest.find((a) => !a.startsWith('-')) : undefined;
      stdout.write(topic !== undefined ? commandHelp(await requireCommand(topic)) : generalHelp());
      return 0;
    }
    // The key derivation's memory is faulted in while the command's modules load (and its
    // password and key file are read): a fresh 128 MiB costs up to 150 ms of kernel time.
    if (!argv.includes('--help') && !argv.includes('-h') && opensRepository(commandName)) {
      void import('../crypto/primitives.js').then((m) => m.reserveKeyDerivationMemory(), () => undefined);
    }
    const command = await requireCommand(commandName);

    // 2. Everything else with the command's flags and the global ones (cobra accepts both anywhere).
    const commandIndex = argv.length - head.rest.length - 1;
    const rest = [...argv.slice(0, commandIndex), ...argv.slice(commandIndex + 1)];
    const parsed = parseArgs(rest, [...GLOBAL_FLAGS, ...command.flags], { env });
    const global = await globalOptionsFrom(parsed.flags);
    json = global.json;
    if (global.help) {
      stdout.write(commandHelp(command));
      return 0;
    }

    const out = new Output(stdout, stderr, { json: global.json, quiet: global.quiet, verbosity: global.verbosity });
    const ctx = makeContext(parsed.flags, parsed.positionals, global, out, io, env, cleanups);
    // On SIGINT/SIGTERM the command sees ctx.signal and stops at its next step. Its lock is
    // released (by the cleanups below) only once it has really stopped: a command that went on
    // writing or deleting after its exclusive lock was gone could race another client.
    const outcome = await settleOrGiveUp(command.run(ctx), ctx.signal, ABORT_GRACE_MS);
    if (outcome === 'still-running') {
      cleanups.length = 0;
      stderr.write(
        `Warning: the command did not stop within ${ABORT_GRACE_MS / 1000} s of the interrupt; its lock is left in place ` +
          `(it becomes stale once this process has exited; "restic-ts unlock" removes it)\n`,
      );
      return exitCodeFor('INTERRUPTED');
    }
    return outcome ?? 0;
  } catch (err) {
    return reportError(err, stderr, json);
  } finally {
    for (const fn of cleanups.reverse()) {
      try {
        await fn();
      } catch (err) {
        stderr.write(`Warning: cleanup failed: ${(err as Error).message}\n`);
      }
    }
  }
}

/** How long an interrupted command may take to stop before we give up waiting for it. */
const ABORT_GRACE_MS = 10_000;

/**
 * The command's result; after an abort, the command's own settlement (normally an
 * INTERRUPTED error it throws at its next step), or 'still-running' if it has not stopped
 * within the grace period.
 */
export function settleOrGiveUp<T>(work: Promise<T>, signal: AbortSignal, graceMs: number): Promise<T | 'still-running'> {
  return new Promise<T | 'still-running'>((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined;
    const onAbort = (): void => {
      timer = setTimeout(() => resolve('still-running'), graceMs);
      timer.unref();
    };
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
    const done = (): void => {
      signal.removeEventListener('abort', onAbort);
      if (timer) clearTimeout(timer);
    };
    work.then(
      (v) => {
        done();
        // A command that finished normally despite the interrupt still reports it.
        if (signal.aborted) reject(abortError(signal));
        else resolve(v);
      },
      (e: unknown) => {
        done();
        reject(signal.aborted && !isResticError(e, 'INTERRUPTED') ? abortError(signal) : e);
      },
    );
  });
}

function abortError(signal: AbortSignal): unknown {
  return isResticError(signal.reason) ? signal.reason : new ResticError('INTERRUPTED', 'interrupted');
}

async function requireCommand(name: string): Promise<Command> {
  const command = await findCommand(name);
  if (!command) throw new ResticError('USAGE', `unknown command "${name}" for "restic-ts" (run "restic-ts help" for the list)`);
  return command;
}

function makeContext(
  flags: CommandContext['flags'],
  positionals: string[],
  global: GlobalOptions,
  out: Output,
  io: MainIO,
  env: Readonly<Record<string, string | undefined>>,
  cleanups: Array<() => Promise<void> | void>,
): CommandContext {
  // The command's signal: the user's interrupt, or the loss of the repository lock (a command
  // must not go on writing or deleting once others may take the repository).
  const lockLost = new AbortController();
  const signal = io.signal ? AbortSignal.any([io.signal, lockLost.signal]) : lockLost.signal;
  const readLine = io.readLine ?? defaultReadLine(out);
  let backendPromise: Promise<Backend> | undefined;
  let repositoryPromise: Promise<Repository> | undefined;

  const getBackend = (): Promise<Backend> => {
    backendPromise ??= (async () => {
      if (global.repository === undefined) {
        throw new ResticError('USAGE', 'Please specify repository location (-r or --repository-file)');
      }
      // Loaded on demand: `version` and `help` need none of it, and start faster without.
      const { openBackend } = await import('../backend/open.js');
      const opened = await openBackend(global.repository, backendOptionsFrom(global, env));
      cleanups.push(() => opened.close());
      let backend = opened;
      // The point-in-time view (issue 5): loaded only when asked for, as it brings the S3 SDK.
      if (global.asOf !== undefined) {
        const { openAsOfBackend } = await import('./as-of.js');
        backend = await openAsOfBackend(backend, global.asOf);
        // A view of the past cannot be locked (nothing can be written there) and needs no lock:
        // its files never change. Commands that would lock get --no-lock semantics.
        global.noLock = true;
      }
      return backend;
    })();
    return backendPromise;
  };

  const readPassword = (prompt: string): Promise<string> => {
    const sources: Parameters<typeof resolvePassword>[0] = {
      env,
      readLine: (p) => readLine(prompt || p),
    };
    if (global.passwordFile !== undefined) sources.passwordFile = global.passwordFile;
    if (global.passwordCommand !== undefined) sources.passwordCommand = global.passwordCommand;
    return resolvePassword(sources);
  };

  return {
    flags,
    positionals,
    global,
    out,
    env,
    cwd: io.cwd ?? process.cwd(),
    signal,
    openBackend: getBackend,
    readPassword,
    onCleanup: (fn) => {
      cleanups.push(fn);
    },
    openRepository: (options: OpenRepositoryOptions = {}) => {
      repositoryPromise ??= (async () => {
        const backend = await getBackend();
        const password = await readPassword('enter password for repository: ');
        const { Repository } = await import('../repository/repository.js');
        const openOptions: Parameters<typeof Repository.open>[0] = {
          backend,
          password,
          compression: global.compression,
          onProgress: (event) => {
            if (event.phase === 'key-damaged') out.warn(`Warning: skipping damaged key file: ${event.error?.message ?? event.keyId}`);
          },
        };
        if (global.keyHint !== undefined) openOptions.keyHint = global.keyHint;
        const repo = await Repository.open(openOptions);
        if (out.stdout.isTTY && !global.json) {
          out.info(`repository ${repo.config.id.slice(0, 8)} opened (repository version ${repo.config.version}) successfully, password is correct`);
        }
        const lockMode = options.lock ?? 'none';
        if (lockMode !== 'none' && !global.noLock) {
          const held: HeldLock = await takeLock(repo, lockMode === 'exclusive', out, signal);
          cleanups.push(() => held.release());
          held.lost?.addEventListener('abort', () => lockLost.abort(held.lost?.reason), { once: true });
        }
        return repo;
      })();
      return repositoryPromise;
    },
  };
}

/** restic's lock protocol (src/repository/lock.ts); a failed refresh is reported on stderr. */
async function takeLock(repo: Repository, exclusive: boolean, out: Output, signal: AbortSignal): Promise<HeldLock> {
  const { acquireLock } = await import('../repository/lock.js');
  return acquireLock(repo, {
    exclusive,
    signal,
    onRefreshError: (err) => out.warn(`Warning: failed to refresh the repository lock: ${(err as Error).message}`),
  });
}

/** Prompts on a terminal (no echo), or reads the first line of piped stdin. */
function defaultReadLine(out: Output): (prompt: string) => Promise<string | undefined> {
  return async (prompt) => {
    const stdin = process.stdin;
    if (stdin.isTTY) {
      out.stderr.write(prompt);
      return readHidden();
    }
    const rl = createInterface({ input: stdin, terminal: false });
    try {
      for await (const line of rl) return line;
      return undefined;
    } finally {
      rl.close();
    }
  };
}

function readHidden(): Promise<string> {
  return new Promise((resolve, reject) => {
    const stdin = process.stdin;
    let value = '';
    stdin.setRawMode(true);
    stdin.resume();
    const onData = (chunk: Buffer): void => {
      for (const ch of chunk.toString('utf8')) {
        if (ch === '\r' || ch === '\n') {
          finish();
          process.stderr.write('\n');
          resolve(value);
          return;
        }
        if (ch === '\u0003') {
          finish();
          reject(new ResticError('INTERRUPTED', 'interrupted'));
          return;
        }
        if (ch === '\u007f') value = value.slice(0, -1);
        else value += ch;
      }
    };
    const finish = (): void => {
      stdin.off('data', onData);
      stdin.setRawMode(false);
      stdin.pause();
    };
    stdin.on('data', onData);
  });
}

function reportError(err: unknown, stderr: Sink, json: boolean): number {
  let code: number;
  let message: string;
  if (isResticError(err)) {
    code = err.exitCode;
    message = err.message;
  } else {
    code = 1;
    message = err instanceof Error ? (err.stack ?? err.message) : String(err);
  }
  stderr.write(`Fatal: ${message}\n`);
  if (json) {
    const obj: Record<string, unknown> = { message_type: 'exit_error', code, message };
    if (isResticError(err)) {
      obj.error_code = err.code;
      if (err.file !== undefined) obj.file = err.file;
    }
    stderr.write(JSON.stringify(obj) + '\n');
  }
  return code;
}

function generalHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  const list = [...COMMANDS]
    .sort((a, b) => a.name.localeCompare(b.name))
    .map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`)
    .join('\n');
  return (
    'restic-ts reads and writes restic repositories (a TypeScript implementation of the restic format).\n\n' +
    'Usage:\n  restic-ts [command]\n\nAvailable Commands:\n' +
    list +
    '\n\nGlobal Flags:\n' +
    formatFlagHelp(GLOBAL_FLAGS) +
    '\n\nUse "restic-ts [command] --help" for more information about a command.\n'
  );
}

function commandHelp(command: Command): string {
  let text = `${command.summary}\n\n`;
  if (command.help) text += command.help.trim() + '\n\n';
  text += `Usage:\n  restic-ts ${command.usage}\n`;
  if (command.flags.length > 0) text += `\nFlags:\n${formatFlagHelp(command.flags)}\n`;
  text += `\nGlobal Flags:\n${formatFlagHelp(GLOBAL_FLAGS)}\n`;
  return text;
}

/**
 * Runs the CLI as this process: argv, the real streams, signals (SIGINT/SIGTERM abort the
 * command and let it clean up; a second one exits), and the exit code. Called by the `restic-ts`
 * executable, bin.ts (the only entry point: it tunes V8 before this module loads).
 */
export function runAsProcess(): void {
  const controller = new AbortController();
  // `restic-ts cat blob … | head`: the reader went away. Drop further output quietly and let
  // main() finish, so locks are released and backends closed.
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EPIPE') throw err;
      stream.write = (() => true) as typeof stream.write;
    });
  }
  let interrupted = false;
  const onSignal = (): void => {
    if (interrupted) process.exit(130);
    interrupted = true;
    process.stderr.write('signal interrupt received, cleaning up\n');
    controller.abort(new ResticError('INTERRUPTED', 'interrupted by signal'));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  main(process.argv.slice(2), { signal: controller.signal }).then(
    (code) => {
      // After an interrupt the abandoned command may still hold the event loop: leave now.
      if (interrupted) process.exit(code === 0 ? 0 : 130);
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`Fatal: ${String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
