/**
 * Finds and loads one of restic-ts's own Node-API addons (xattrs, seal, zstd). Each is built at
 * install time (src/build-native-addon.mjs runs node-gyp) into
 * `src/<dir>/build/Release/<name>.node` of the package, and is optional: without it the caller
 * falls back to a portable path and reports why.
 *
 * The module asking may run from the TypeScript sources (src/…), from the compiled package
 * (dist/…) or from another compiled copy inside the package (the benchmarks build into
 * node_modules/.cache/…), so the package root is searched upwards from the asking module.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export type NativeAddon<T> = { binding: T; file: string; reason?: undefined } | { binding?: undefined; file?: undefined; reason: string };

export interface NativeAddonSpec {
  /** The addon's folder under src/, e.g. `crypto/native`. */
  dir: string;
  /** The file name without `.node`. */
  name: string;
  /** What it is, for messages: `native seal addon`. */
  what: string;
  /** What building it needs, for messages: `a C compiler, make and python3`. */
  needs: string;
  /** Functions the binding must export. */
  exports: readonly string[];
  /** An environment variable that disables the addon when set to `0`. */
  disableVariable?: string;
}

function candidates(fromUrl: string, spec: NativeAddonSpec): string[] {
  const out: string[] = [];
  let dir = path.dirname(fileURLToPath(fromUrl));
  for (let up = 0; up < 8; up++) {
    out.push(path.join(dir, 'src', ...spec.dir.split('/'), 'build', 'Release', `${spec.name}.node`));
    const parent = path.dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  return out;
}

/** Loads the addon for the module at `fromUrl` (its `import.meta.url`), or says why it cannot. */
export function loadNativeAddon<T>(fromUrl: string, spec: NativeAddonSpec): NativeAddon<T> {
  if (spec.disableVariable && process.env[spec.disableVariable] === '0') return { reason: `disabled by ${spec.disableVariable}=0` };
  const file = candidates(fromUrl, spec).find((f) => existsSync(f));
  if (file === undefined) {
    return {
      reason:
        `the ${spec.what} is not built (src/${spec.dir}/build/Release/${spec.name}.node is missing: installing ` +
        `restic-ts builds it with ${spec.needs}; install them, then run \`npm rebuild restic-ts\`)`,
    };
  }
  try {
    const binding = createRequire(fromUrl)(file) as Record<string, unknown>;
    const missing = spec.exports.filter((name) => typeof binding[name] !== 'function');
    if (missing.length > 0) return { reason: `${file} does not export ${missing.join(', ')}` };
    return { binding: binding as T, file };
  } catch (cause) {
    return { reason: `the ${spec.what} ${file} could not be loaded: ${(cause as Error).message}` };
  }
}
