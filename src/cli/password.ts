/**
 * Where the repository password comes from, in restic's order:
 * `--password-command` / `RESTIC_PASSWORD_COMMAND`, else `--password-file` / `RESTIC_PASSWORD_FILE`,
 * else `RESTIC_PASSWORD`, else a prompt on the terminal, else the first line of stdin.
 * (restic: cmd/restic/global.go resolvePassword/ReadPassword.)
 */
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { ResticError } from '../errors.js';

export interface PasswordSources {
  passwordFile?: string;
  passwordCommand?: string;
  env: Readonly<Record<string, string | undefined>>;
  /** Reads one line interactively (terminal prompt) or from piped stdin; undefined if neither is possible. */
  readLine?: (prompt: string) => Promise<string | undefined>;
}

export async function resolvePassword(sources: PasswordSources): Promise<string> {
  if (sources.passwordFile && sources.passwordCommand) {
    throw new ResticError('USAGE', 'Password file and command are mutually exclusive options');
  }
  if (sources.passwordCommand) return runPasswordCommand(sources.passwordCommand);
  if (sources.passwordFile) return readPasswordFile(sources.passwordFile);
  const fromEnv = sources.env.RESTIC_PASSWORD;
  if (fromEnv) return fromEnv;
  const line = sources.readLine ? await sources.readLine('enter password for repository: ') : undefined;
  if (line === undefined) {
    throw new ResticError('USAGE', 'no password given: use --password-file, --password-command or RESTIC_PASSWORD');
  }
  if (line.length === 0) throw new ResticError('USAGE', 'an empty password is not a password');
  return line;
}

async function readPasswordFile(file: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new ResticError('USAGE', `${file} does not exist`, { file, cause: err });
    throw new ResticError('IO', `cannot read password file ${file}: ${(err as Error).message}`, { file, cause: err });
  }
  // restic's textfile.Read strips a UTF-8 BOM; then strings.TrimSpace
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const password = text.trim();
  if (password.length === 0) throw new ResticError('USAGE', `password file ${file} is empty`, { file });
  return password;
}

/** Splits a command line the way restic's SplitShellStrings does (spaces, quotes, backslash). */
export function splitShellWords(s: string): string[] {
  const words: string[] = [];
  let current = '';
  let inWord = false;
  let quote: '"' | "'" | undefined;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (quote) {
      if (c === quote) quote = undefined;
      else if (c === '\\' && quote === '"' && i + 1 < s.length) current += s[++i];
      else current += c;
      continue;
    }
    if (c === '"' || c === "'") {
      quote = c;
      inWord = true;
    } else if (c === '\\' && i + 1 < s.length) {
      current += s[++i];
      inWord = true;
    } else if (c === ' ' || c === '\t' || c === '\n') {
      if (inWord) words.push(current);
      current = '';
      inWord = false;
    } else {
      current += c;
      inWord = true;
    }
  }
  if (quote) throw new ResticError('USAGE', `--password-command: unterminated quote in ${JSON.stringify(s)}`);
  if (inWord) words.push(current);
  return words;
}

function runPasswordCommand(command: string): Promise<string> {
  const words = splitShellWords(command);
  if (words.length === 0) throw new ResticError('USAGE', '--password-command is empty');
  return new Promise((resolve, reject) => {
    const child = spawn(words[0], words.slice(1), { stdio: ['ignore', 'pipe', 'inherit'] });
    const chunks: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => chunks.push(d));
    child.on('error', (err) =>
      reject(new ResticError('USAGE', `--password-command ${JSON.stringify(command)} could not be run: ${err.message}`, { cause: err })),
    );
    child.on('close', (code) => {
      if (code !== 0) {
        reject(new ResticError('FATAL', `--password-command ${JSON.stringify(command)} exited with status ${code}`));
        return;
      }
      resolve(Buffer.concat(chunks).toString('utf8').trim());
    });
  });
}
