/**
 * The shape of a snapshot's root tree for a list of backup targets, as restic builds it.
 *
 * Every target contributes its path components: `/home/u/docs` gives `home` → `u` → `docs`,
 * a relative `src/app` gives `src` → `app` (leading `..` dropped). The intermediate
 * directories carry the real metadata of the directory they stand for (`metaPath`); the last
 * component is backed up from `path`. Two targets with the same first component but
 * different roots (`a/x` and `../a/y`) get `a` and `a-1`. A target that is also an ancestor
 * of another target is unrolled: its entries are listed and the deeper target is merged in.
 * `.` or `/` alone stand for their entries.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { ResticError } from '../errors.js';
import { globComponentRegExp } from './excludes.js';

export interface TargetTree {
  /** Children by name (names are file names; targets are given as strings). */
  children: Map<string, TargetTree>;
  /** Back up this path here (a leaf). */
  path?: string;
  /** For intermediate directories: where their metadata comes from. */
  metaPath?: string;
  /** The directory the first component lives in (to tell same-named roots apart). */
  root?: string;
}

/** Path components after making the path absolute-looking (so `..` cannot escape), as restic's pathComponents. */
function components(p: string): string[] {
  const cleaned = path.posix.normalize(path.isAbsolute(p) ? p : '/' + p);
  return cleaned.split('/').filter((c) => c !== '');
}

function rootDirectory(target: string): string {
  if (path.isAbsolute(target)) return '/';
  let rel = '.';
  for (const c of path.posix.normalize(target).split('/')) if (c === '..') rel = path.posix.join(rel, c);
  return rel;
}

/** `.`, `/`, `..` name no component of their own: restic backs up their entries instead. */
export async function resolveTargets(targets: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  for (const raw of targets) {
    const target = path.posix.normalize(raw);
    if (components(target).length > 0) {
      out.push(target.length > 1 ? target.replace(/\/+$/, '') : target);
      continue;
    }
    let names: string[];
    try {
      names = await fs.readdir(target);
    } catch (err) {
      throw new ResticError('IO', `cannot read backup target ${raw}: ${(err as Error).message}`, { cause: err });
    }
    names.sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    for (const n of names) out.push(path.posix.join(target, n));
  }
  return out;
}

function addBelow(tree: TargetTree, target: string, root: string, comps: string[]): void {
  const name = comps[0];
  let child = tree.children.get(name);
  if (comps.length === 1) {
    if (!child) {
      tree.children.set(name, { children: new Map(), path: target });
      return;
    }
    if (child.path !== undefined) throw new ResticError('USAGE', `backup target ${target} is given twice`);
    child.path = target;
    return;
  }
  if (!child) {
    child = { children: new Map() };
    tree.children.set(name, child);
  }
  const subroot = path.posix.join(root, name);
  child.metaPath = subroot;
  addBelow(child, target, subroot, comps.slice(1));
}

async function unroll(tree: TargetTree): Promise<void> {
  if (tree.path !== undefined && tree.children.size > 0) {
    const dir = tree.path;
    let names: string[];
    try {
      names = await fs.readdir(dir);
    } catch (err) {
      throw new ResticError('IO', `cannot read backup target ${dir}: ${(err as Error).message}`, { cause: err });
    }
    for (const name of names) {
      const full = path.posix.join(dir, name);
      const existing = tree.children.get(name);
      if (existing) {
        if (existing.path === undefined) existing.path = full;
        else if (existing.path !== full) throw new ResticError('USAGE', `backup targets collide at ${full}`);
        continue;
      }
      tree.children.set(name, { children: new Map(), path: full });
    }
    tree.metaPath = dir;
    tree.path = undefined;
  }
  for (const child of tree.children.values()) await unroll(child);
}

/** Builds the root tree for already-resolved targets (see `resolveTargets`). */
export async function buildTargetTree(targets: readonly string[]): Promise<TargetTree> {
  const top: TargetTree = { children: new Map() };
  const seen = new Set<string>();
  for (const raw of targets) {
    const target = path.posix.normalize(raw);
    if (seen.has(target)) continue;
    seen.add(target);
    const comps = components(target);
    if (comps.length === 0) throw new ResticError('USAGE', `invalid backup target ${JSON.stringify(raw)}: no path components`);
    const root = rootDirectory(target);
    const first = comps[0];
    let name = first;
    let node: TargetTree = { children: new Map(), root };
    for (let i = 1; ; i++) {
      const other = top.children.get(name);
      if (!other) break;
      if (other.root === root) {
        node = other;
        break;
      }
      name = `${first}-${i}`;
    }
    if (comps.length > 1) {
      const subroot = path.posix.join(root, first);
      addBelow(node, target, subroot, comps.slice(1));
      node.metaPath = subroot;
    } else {
      if (node.path !== undefined) throw new ResticError('USAGE', `backup target ${target} is given twice`);
      node.path = target;
    }
    top.children.set(name, node);
  }
  await unroll(top);
  return top;
}

const GLOB_META = /[*?[\\]/;

/**
 * Go's filepath.Glob, as restic applies it to `--files-from` lines: a line without glob
 * characters names itself if it exists; otherwise each component with `*`, `?` or `[…]` is
 * matched against directory entries (sorted). No matches gives an empty list.
 */
export async function globPaths(pattern: string): Promise<string[]> {
  if (!GLOB_META.test(pattern)) {
    try {
      await fs.lstat(pattern);
      return [pattern];
    } catch {
      return [];
    }
  }
  const dir = path.dirname(pattern);
  const file = path.basename(pattern);
  const dirs = GLOB_META.test(dir) ? await globPaths(dir) : [dir];
  const re = globComponentRegExp(file);
  const out: string[] = [];
  for (const d of dirs) {
    let names: string[];
    try {
      names = await fs.readdir(d);
    } catch {
      continue;
    }
    names.sort();
    for (const n of names) if (re.test(n)) out.push(d === '.' && !pattern.startsWith('./') ? n : path.join(d, n));
  }
  return out;
}
