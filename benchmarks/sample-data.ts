/**
 * Deterministic compressible sample data for the benchmarks: JavaScript, TypeScript, JSON
 * and Markdown from node_modules (real text), cut to the requested size.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';

const projectRoot = resolve(import.meta.dirname, '..');

export function compressibleSample(bytes: number): Uint8Array {
  const out = new Uint8Array(bytes);
  let filled = 0;
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir).sort()) {
      if (filled >= bytes) return;
      const p = join(dir, name);
      const st = statSync(p);
      if (st.isDirectory()) walk(p);
      else if (/\.(js|ts|json|md)$/.test(name)) {
        const data = readFileSync(p);
        const n = Math.min(data.length, bytes - filled);
        out.set(data.subarray(0, n), filled);
        filled += n;
      }
    }
  };
  walk(join(projectRoot, 'node_modules'));
  if (filled < bytes) for (let i = filled; i < bytes; i++) out[i] = out[i - filled]!;
  return out;
}
