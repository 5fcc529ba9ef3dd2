/**
 * Which paths a backup leaves out, with restic's rules:
 *
 * - `--exclude` / `--iexclude` / `--exclude-file` patterns: path components matched with
 *   shell globs (`*`, `?`, `[a-z]`, `[^x]`, `\` escapes) plus `**` for any number of
 *   directories. A pattern starting with `/` is anchored at the root; any other pattern may
 *   match at any depth. A pattern matching a directory excludes everything below it. Patterns
 *   starting with `!` re-include what earlier patterns excluded.
 * - `--exclude-if-present NAME[:HEADER]` and `--exclude-caches` (`CACHEDIR.TAG` with the cache
 *   directory signature): everything in a directory holding such a file, except the file itself.
 * - `--exclude-larger-than SIZE`: files (not directories) above the size.
 */
import { closeSync, lstatSync, openSync, readSync } from 'node:fs';
import path from 'node:path';
import { ResticError } from '../errors.js';

interface PatternPart {
  /** `null` for `**`. */
  regex: RegExp | null;
  literal?: string;
}

export interface Pattern {
  original: string;
  negated: boolean;
  absolute: boolean;
  parts: PatternPart[];
}

/** Translates one path component of a glob (Go's filepath.Match syntax) to a RegExp. */
function globToRegExp(glob: string, caseInsensitive: boolean, original: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i];
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '\\') {
      i++;
      if (i >= glob.length) throw badPattern(original);
      re += escapeRegExp(glob[i]);
    } else if (c === '[') {
      const end = findClassEnd(glob, i);
      if (end < 0) throw badPattern(original);
      let body = glob.slice(i + 1, end);
      let negate = false;
      if (body.startsWith('^')) {
        negate = true;
        body = body.slice(1);
      }
      if (body === '') throw badPattern(original);
      let cls = '';
      for (let j = 0; j < body.length; j++) {
        let ch = body[j];
        if (ch === '\\') {
          j++;
          ch = body[j] ?? '';
        }
        cls += ch === '-' && j > 0 && j < body.length - 1 ? '-' : escapeClassChar(ch);
      }
      re += negate ? `[^/${cls}]` : `[${cls}]`;
      i = end;
    } else re += escapeRegExp(c);
  }
  return new RegExp(`^${re}$`, caseInsensitive ? 'su' : 'su');
}

function findClassEnd(glob: string, start: number): number {
  for (let j = start + 1; j < glob.length; j++) {
    if (glob[j] === '\\') j++;
    else if (glob[j] === ']' && j > start + 1 + (glob[start + 1] === '^' ? 1 : 0)) return j;
  }
  return -1;
}

/** One path component of a Go filepath.Match glob as a RegExp (throws USAGE when malformed). */
export function globComponentRegExp(glob: string): RegExp {
  return globToRegExp(glob, false, glob);
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

function escapeClassChar(s: string): string {
  return s.replace(/[\]\\^-]/g, '\\$&');
}

function badPattern(p: string): ResticError {
  return new ResticError('USAGE', `invalid exclude pattern ${JSON.stringify(p)}: syntax error in pattern`);
}

export function parsePattern(text: string, caseInsensitive = false): Pattern {
  let body = text;
  let negated = false;
  if (body.startsWith('!')) {
    negated = true;
    body = body.slice(1);
  }
  if (caseInsensitive) body = body.toLowerCase();
  const cleaned = path.posix.normalize(body);
  const absolute = cleaned.startsWith('/');
  const comps = cleaned.split('/').filter((c, i) => !(i === 0 && c === '') && c !== '');
  const parts: PatternPart[] = comps.map((c) => {
    if (c === '**') return { regex: null };
    if (!/[\\[\]*?]/.test(c)) return { regex: /^$/, literal: c };
    return { regex: globToRegExp(c, caseInsensitive, text) };
  });
  return { original: text, negated, absolute, parts };
}

function partMatches(part: PatternPart, comp: string): boolean {
  if (part.literal !== undefined) return part.literal === comp;
  return part.regex!.test(comp);
}

/** Do parts[pi..] match comps from si on? The pattern may end before the path does (a parent matches). */
function matchFrom(parts: PatternPart[], pi: number, comps: string[], si: number): boolean {
  if (pi === parts.length) return true;
  const part = parts[pi];
  if (part.regex === null) {
    for (let k = si; k <= comps.length; k++) if (matchFrom(parts, pi + 1, comps, k)) return true;
    return false;
  }
  if (si >= comps.length) return false;
  return partMatches(part, comps[si]) && matchFrom(parts, pi + 1, comps, si + 1);
}

/** restic's filter.Match for one pattern and an absolute path. */
export function patternMatches(pattern: Pattern, absPath: string): boolean {
  if (pattern.parts.length === 0) return !pattern.absolute || absPath === '/';
  const comps = absPath.split('/').filter((c) => c !== '');
  if (pattern.absolute) return matchFrom(pattern.parts, 0, comps, 0);
  for (let start = 0; start < comps.length; start++) if (matchFrom(pattern.parts, 0, comps, start)) return true;
  return false;
}

/** restic's filter.List: non-negated patterns include, later `!` patterns take back. */
export function listMatches(patterns: readonly Pattern[], absPath: string, lowerCase = false): boolean {
  const p = lowerCase ? absPath.toLowerCase() : absPath;
  let matched = false;
  for (const pat of patterns) {
    const m = patternMatches(pat, p);
    matched = pat.negated ? matched && !m : matched || m;
  }
  return matched;
}

/** Lines of an exclude file: trimmed, `#` comments and blank lines dropped, `$VAR` expanded. */
export function parseExcludeFile(text: string, env: Readonly<Record<string, string | undefined>> = process.env): string[] {
  const out: string[] = [];
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    out.push(line.replace(/\$\{(\w+)\}|\$(\w+)/g, (_, a: string | undefined, b: string | undefined) => env[a ?? b ?? ''] ?? ''));
  }
  return out;
}

/** `1024`, `10k`, `5M`, `2G`, `1T` (binary units, restic's parseSizeStr). */
export function parseSize(text: string): number {
  const m = /^(\d+)([bBkKmMgGtT]?)$/.exec(text.trim());
  if (!m) throw new ResticError('USAGE', `invalid size ${JSON.stringify(text)}: expected a number with an optional unit b, k, m, g or t`);
  const unit = { '': 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 }[m[2].toLowerCase() as '' | 'b' | 'k' | 'm' | 'g' | 't'];
  return Number(m[1]) * unit;
}

export const CACHEDIR_TAG = 'CACHEDIR.TAG';
export const CACHEDIR_SIGNATURE = 'Signature: 8a477f597d28d172789f06886806bc55';

export interface ExcludeOptions {
  excludes?: readonly string[];
  iexcludes?: readonly string[];
  /** `NAME` or `NAME:HEADER` */
  excludeIfPresent?: readonly string[];
  excludeCaches?: boolean;
  excludeLargerThan?: number;
}

interface TagSpec {
  name: string;
  header: string;
}

/** Decides per path; caches the tag-file test per directory. */
export class ExcludeFilter {
  private readonly patterns: Pattern[];
  private readonly ipatterns: Pattern[];
  private readonly tags: TagSpec[];
  private readonly dirCache = new Map<string, boolean>();
  private readonly maxSize?: number;
  /** Warnings about malformed tag files (restic prints them). */
  readonly warnings: string[] = [];

  constructor(options: ExcludeOptions) {
    this.patterns = (options.excludes ?? []).filter((p) => p !== '').map((p) => parsePattern(p));
    this.ipatterns = (options.iexcludes ?? []).filter((p) => p !== '').map((p) => parsePattern(p, true));
    this.tags = [];
    for (const spec of options.excludeIfPresent ?? []) {
      if (spec === '' || spec.startsWith(':')) throw new ResticError('USAGE', `--exclude-if-present ${JSON.stringify(spec)}: no name for the exclusion tag file`);
      const colon = spec.indexOf(':');
      this.tags.push(colon > 0 ? { name: spec.slice(0, colon), header: spec.slice(colon + 1) } : { name: spec, header: '' });
    }
    if (options.excludeCaches) this.tags.push({ name: CACHEDIR_TAG, header: CACHEDIR_SIGNATURE });
    this.maxSize = options.excludeLargerThan;
  }

  get active(): boolean {
    return this.patterns.length > 0 || this.ipatterns.length > 0 || this.tags.length > 0 || this.maxSize !== undefined;
  }

  /** By name (pattern and tag-file rules), before stat. `absPath` is the item's absolute path. */
  excludedByName(absPath: string): boolean {
    if (this.patterns.length > 0 && listMatches(this.patterns, absPath)) return true;
    if (this.ipatterns.length > 0 && listMatches(this.ipatterns, absPath, true)) return true;
    if (this.tags.length > 0) {
      const dir = path.posix.dirname(absPath);
      const base = path.posix.basename(absPath);
      for (const tag of this.tags) {
        if (base === tag.name) continue;
        const key = `${tag.name}\0${tag.header}\0${dir}`;
        let rejected = this.dirCache.get(key);
        if (rejected === undefined) {
          rejected = this.dirHasTag(dir, tag);
          this.dirCache.set(key, rejected);
        }
        if (rejected) return true;
      }
    }
    return false;
  }

  /** By size, after stat: files above `--exclude-larger-than`. */
  excludedBySize(isDir: boolean, size: number): boolean {
    return this.maxSize !== undefined && !isDir && size > this.maxSize;
  }

  private dirHasTag(dir: string, tag: TagSpec): boolean {
    const file = path.posix.join(dir, tag.name);
    try {
      lstatSync(file);
    } catch {
      return false;
    }
    if (tag.header === '') return true;
    const want = Buffer.from(tag.header);
    const buf = Buffer.alloc(want.length);
    let fd: number | undefined;
    try {
      fd = openSync(file, 'r');
      let got = 0;
      while (got < buf.length) {
        const n = readSync(fd, buf, got, buf.length - got, null);
        if (n === 0) break;
        got += n;
      }
      if (got < buf.length) {
        this.warnings.push(`invalid (too short) signature in exclusion tagfile ${JSON.stringify(file)}`);
        return false;
      }
    } catch (err) {
      this.warnings.push(`could not read exclusion tagfile ${file}: ${(err as Error).message}`);
      return false;
    } finally {
      if (fd !== undefined) closeSync(fd);
    }
    if (!buf.equals(want)) {
      this.warnings.push(`invalid signature in exclusion tagfile ${JSON.stringify(file)}`);
      return false;
    }
    return true;
  }
}
