/**
 * Go's `path` package for slash-separated paths (repository prefixes, snapshot paths,
 * filter patterns): purely lexical, never touching the file system, so results match what
 * restic computes on any platform.
 */

/** Go's `path.Clean` (slash-separated, purely lexical). */
export function goPathClean(p: string): string {
  if (p === '') return '.';
  const rooted = p.startsWith('/');
  const out: string[] = [];
  for (const part of p.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (out.length > 0 && out[out.length - 1] !== '..') out.pop();
      else if (!rooted) out.push('..');
      continue;
    }
    out.push(part);
  }
  const joined = out.join('/');
  if (rooted) return '/' + joined;
  return joined === '' ? '.' : joined;
}

/** Go's `path.Join`: joins the non-empty parts and cleans the result (`''` when all are empty). */
export function goPathJoin(...parts: string[]): string {
  const nonEmpty = parts.filter((p) => p !== '');
  return nonEmpty.length === 0 ? '' : goPathClean(nonEmpty.join('/'));
}
