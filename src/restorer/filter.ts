/**
 * restic's path patterns (internal/filter, as in 0.14), used by `restore --include/--exclude`
 * and `find`: a pattern is split at `/`; a leading `/` anchors it at the root, otherwise it
 * may match any trailing run of path components; `**` matches any number of components; each
 * other component is a Go `filepath.Match` glob (`*`, `?`, `[a-z]`, `[^x]`, `\` escapes).
 */
import { ResticError } from '../errors.js';
import { goPathClean } from '../format/go-path.js';

interface PatternPart {
  /** `/` for the root of an absolute pattern, `` for `**`, else the glob. */
  glob: string;
  simple: boolean;
  regex?: RegExp;
}

export interface PathPattern {
  original: string;
  parts: PatternPart[];
  negated: boolean;
}

function splitPath(p: string): string[] {
  const parts = p.split('/');
  if (parts[0] === '') parts[0] = '/';
  return parts;
}

/** A Go filepath.Match glob as an anchored regular expression; USAGE error on a bad pattern. */
export function globToRegExp(glob: string, original = glob): RegExp {
  let re = '';
  const bad = (): never => {
    throw new ResticError('USAGE', `invalid pattern ${JSON.stringify(original)}: syntax error in pattern`);
  };
  const chars = [...glob];
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i];
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '\\') {
      if (i + 1 >= chars.length) bad();
      re += escapeRe(chars[++i]);
    } else if (c === '[') {
      i++;
      let negate = false;
      if (chars[i] === '^') {
        negate = true;
        i++;
      }
      let cls = '';
      let ranges = 0;
      // Go's getEsc: an unescaped `-` or `]` cannot start a range; `]` closes after one range
      const esc = (): string => {
        let c = chars[i];
        if (c === undefined || c === '-' || c === ']') bad();
        if (c === '\\') {
          i++;
          c = chars[i];
          if (c === undefined) bad();
        }
        i++;
        return c;
      };
      for (;;) {
        if (i >= chars.length) bad();
        if (chars[i] === ']' && ranges > 0) break;
        const lo = esc();
        if (chars[i] === '-') {
          i++;
          const hi = esc();
          if (hi.codePointAt(0)! < lo.codePointAt(0)!) bad();
          cls += `${escapeClass(lo)}-${escapeClass(hi)}`;
        } else {
          cls += escapeClass(lo);
        }
        ranges++;
      }
      re += negate ? `[^/${cls}]` : `[${cls}]`;
    } else re += escapeRe(c);
  }
  return new RegExp(`^${re}$`, 'su');
}

function escapeRe(c: string): string {
  return c.replace(/[\\^$.*+?()[\]{}|/-]/g, '\\$&');
}

function escapeClass(c: string): string {
  return c.replace(/[\\^\]\-[]/g, '\\$&');
}

/** restic's preparePattern: `!` negates, the rest is cleaned and split into components. */
export function parsePattern(pattern: string): PathPattern {
  let negated = false;
  let body = pattern;
  if (body.startsWith('!')) {
    negated = true;
    body = body.slice(1);
  }
  const parts = splitPath(goPathClean(body)).map((part): PatternPart => {
    const simple = !/[\\[\]*?]/.test(part);
    const glob = part === '**' ? '' : part;
    return { glob, simple, regex: simple || glob === '' ? undefined : globToRegExp(glob, pattern) };
  });
  return { original: pattern, parts, negated };
}

function doubleWildcard(parts: PatternPart[]): number {
  return parts.findIndex((p) => p.glob === '');
}

function matchParts(parts: PatternPart[], strs: string[]): boolean {
  const pos = doubleWildcard(parts);
  if (pos >= 0) {
    // `**` expands to 0…n single-component wildcards
    for (let i = 0; i <= strs.length - parts.length + 1; i++) {
      const expanded = parts.slice(0, pos);
      for (let k = 0; k < i; k++) expanded.push({ glob: '*', simple: false, regex: /^[^/]*$/su });
      expanded.push(...parts.slice(pos + 1));
      if (matchParts(expanded, strs)) return true;
    }
    return false;
  }
  if (parts.length === 0) return strs.length === 0;
  if (parts.length > strs.length) return false;
  let minOffset = 0;
  let maxOffset = strs.length - parts.length;
  if (parts[0].glob === '/') maxOffset = 0;
  else if (strs[0] === '/') minOffset = 1;
  outer: for (let offset = maxOffset; offset >= minOffset; offset--) {
    for (let i = parts.length - 1; i >= 0; i--) {
      const p = parts[i];
      const s = strs[offset + i];
      const ok = p.simple ? p.glob === s : p.regex!.test(s);
      if (!ok) continue outer;
    }
    return true;
  }
  return false;
}

function childMatchParts(pattern: PathPattern, strs: string[]): boolean {
  if (pattern.parts[0].glob !== '/') return true;
  const pos = doubleWildcard(pattern.parts);
  let s = strs;
  if (pos >= 0 && s.length >= pos) s = s.slice(0, pos);
  const l = Math.min(s.length, pattern.parts.length);
  return matchParts(pattern.parts.slice(0, l), s);
}

/** restic's filter.Match(pattern, path). */
export function matchPattern(pattern: PathPattern | string, path: string): boolean {
  const p = typeof pattern === 'string' ? parsePattern(pattern) : pattern;
  if (p.original === '') return true;
  return matchParts(p.parts, splitPath(path));
}

/** restic's filter.ChildMatch: could something below `path` match? */
export function childMayMatch(pattern: PathPattern | string, path: string): boolean {
  const p = typeof pattern === 'string' ? parsePattern(pattern) : pattern;
  if (p.original === '') return true;
  return childMatchParts(p, splitPath(path));
}

/** restic's filter.ListWithChild over several patterns (negated ones subtract). */
export function matchList(patterns: readonly PathPattern[], path: string): { matched: boolean; childMayMatch: boolean } {
  let matched = false;
  let child = false;
  if (patterns.length === 0) return { matched, childMayMatch: child };
  const strs = splitPath(path);
  const hasNegated = patterns.some((p) => p.negated);
  for (const p of patterns) {
    const m = matchParts(p.parts, strs);
    const c = childMatchParts(p, strs);
    if (p.negated) {
      matched = matched && !m;
      child = child && !m;
    } else {
      matched = matched || m;
      child = child || c;
      if (matched && child && !hasNegated) break;
    }
  }
  return { matched, childMayMatch: child };
}

/** Patterns as restic's ParsePatterns (empty ones dropped); USAGE error naming a bad one. */
export function parsePatterns(patterns: readonly string[]): PathPattern[] {
  return patterns.filter((p) => p !== '').map(parsePattern);
}
