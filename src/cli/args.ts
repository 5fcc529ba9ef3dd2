/**
 * A small restic-style (pflag) command-line parser, written by hand so the CLI needs no
 * dependency.
 *
 * Understood forms: `--flag value`, `--flag=value`, `-f value`, `-fvalue`, grouped short
 * booleans/counters (`-vvq`), repeated flags (string lists, counters), `--no-x` is NOT
 * special (pflag has no negation), and `--` ends flag parsing. Flags may appear before or
 * after positionals, as with cobra. Anything unknown is a USAGE error, raised before the
 * command touches a repository.
 */
import { ResticError } from '../errors.js';

export type FlagKind = 'boolean' | 'string' | 'strings' | 'count' | 'int';

export interface FlagSpec {
  /** Long name without dashes, e.g. `password-file`. */
  name: string;
  /** One-letter shorthand without dash, e.g. `p`. */
  short?: string;
  kind: FlagKind;
  /** Environment variable supplying the value when the flag is absent (string/int/boolean). */
  env?: string;
  /** Placeholder in help output, e.g. `file`. */
  valueName?: string;
  description: string;
  /** Accepted but hidden from help (deprecated aliases). */
  hidden?: boolean;
}

export type FlagValue = boolean | string | string[] | number;

export class ParsedFlags {
  private readonly values = new Map<string, FlagValue>();
  /** Flags given on the command line (not from the environment or defaults). */
  private readonly explicit = new Set<string>();

  constructor(private readonly specs: ReadonlyMap<string, FlagSpec>) {}

  /** @internal used by the parser. */
  set(name: string, value: FlagValue, explicit: boolean): void {
    this.values.set(name, value);
    if (explicit) this.explicit.add(name);
  }

  /** @internal used by the parser. */
  raw(name: string): FlagValue | undefined {
    return this.values.get(name);
  }

  has(name: string): boolean {
    return this.values.has(name);
  }

  /** True when the flag was typed on the command line (an env var does not count). */
  given(name: string): boolean {
    return this.explicit.has(name);
  }

  string(name: string): string | undefined {
    this.check(name, 'string');
    const v = this.values.get(name);
    return typeof v === 'string' ? v : undefined;
  }

  strings(name: string): string[] {
    this.check(name, 'strings');
    const v = this.values.get(name);
    return Array.isArray(v) ? [...v] : [];
  }

  boolean(name: string): boolean {
    this.check(name, 'boolean');
    return this.values.get(name) === true;
  }

  count(name: string): number {
    this.check(name, 'count');
    const v = this.values.get(name);
    return typeof v === 'number' ? v : 0;
  }

  int(name: string): number | undefined {
    this.check(name, 'int');
    const v = this.values.get(name);
    return typeof v === 'number' ? v : undefined;
  }

  private check(name: string, kind: FlagKind): void {
    const spec = this.specs.get(name);
    if (!spec) throw new Error(`internal: flag --${name} is not declared`);
    if (spec.kind !== kind) throw new Error(`internal: flag --${name} is ${spec.kind}, read as ${kind}`);
  }
}

export interface ParsedArgs {
  flags: ParsedFlags;
  positionals: string[];
}

export interface ParseOptions {
  /**
   * Stop at the first positional and return the rest untouched in `rest` (used to find the
   * command name while still accepting global flags before it).
   */
  stopAtPositional?: boolean;
  /** Environment used for `env` fallbacks; omit to ignore environment variables. */
  env?: Readonly<Record<string, string | undefined>>;
}

export interface ParseResult extends ParsedArgs {
  /** Arguments after the first positional when `stopAtPositional` was set. */
  rest: string[];
}

function usage(message: string): ResticError {
  return new ResticError('USAGE', message);
}

export function parseArgs(argv: readonly string[], specs: readonly FlagSpec[], options: ParseOptions = {}): ParseResult {
  const byName = new Map<string, FlagSpec>();
  const byShort = new Map<string, FlagSpec>();
  for (const spec of specs) {
    if (byName.has(spec.name)) throw new Error(`internal: flag --${spec.name} declared twice`);
    byName.set(spec.name, spec);
    if (spec.short !== undefined) {
      if (byShort.has(spec.short)) throw new Error(`internal: flag -${spec.short} declared twice`);
      byShort.set(spec.short, spec);
    }
  }
  const flags = new ParsedFlags(byName);
  const positionals: string[] = [];
  let rest: string[] = [];

  const assign = (spec: FlagSpec, value: string | undefined, shown: string): void => {
    switch (spec.kind) {
      case 'boolean': {
        if (value === undefined) {
          flags.set(spec.name, true, true);
          return;
        }
        flags.set(spec.name, parseBoolean(value, shown), true);
        return;
      }
      case 'count': {
        if (value === undefined) {
          flags.set(spec.name, ((flags.raw(spec.name) as number | undefined) ?? 0) + 1, true);
          return;
        }
        flags.set(spec.name, parseInteger(value, shown), true);
        return;
      }
      case 'int':
        flags.set(spec.name, parseInteger(value ?? '', shown), true);
        return;
      case 'string':
        flags.set(spec.name, value ?? '', true);
        return;
      case 'strings': {
        const list = (flags.raw(spec.name) as string[] | undefined) ?? [];
        list.push(value ?? '');
        flags.set(spec.name, list, true);
        return;
      }
    }
  };

  const takesValue = (spec: FlagSpec): boolean => spec.kind === 'string' || spec.kind === 'strings' || spec.kind === 'int';

  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      const name = eq < 0 ? arg.slice(2) : arg.slice(2, eq);
      const spec = byName.get(name);
      if (!spec) throw usage(`unknown flag: --${name}`);
      if (eq >= 0) {
        assign(spec, arg.slice(eq + 1), `--${name}`);
      } else if (takesValue(spec)) {
        if (i + 1 >= argv.length) throw usage(`flag needs an argument: --${name}`);
        assign(spec, argv[++i], `--${name}`);
      } else {
        assign(spec, undefined, `--${name}`);
      }
      continue;
    }
    if (arg.startsWith('-') && arg.length > 1) {
      // Shorthand group: -vvq, -rVALUE, -r VALUE, -p=file
      for (let j = 1; j < arg.length; j++) {
        const letter = arg[j];
        const spec = byShort.get(letter);
        if (!spec) throw usage(`unknown shorthand flag: '${letter}' in ${arg}`);
        if (takesValue(spec)) {
          let value = arg.slice(j + 1);
          if (value.startsWith('=')) value = value.slice(1);
          else if (value === '') {
            if (i + 1 >= argv.length) throw usage(`flag needs an argument: '${letter}' in -${letter}`);
            value = argv[++i];
          }
          assign(spec, value, `-${letter}`);
          break;
        }
        if (arg[j + 1] === '=') {
          assign(spec, arg.slice(j + 2), `-${letter}`);
          break;
        }
        assign(spec, undefined, `-${letter}`);
      }
      continue;
    }
    positionals.push(arg);
    if (options.stopAtPositional) {
      rest = argv.slice(i + 1);
      break;
    }
  }

  if (options.env) {
    for (const spec of specs) {
      if (spec.env === undefined || flags.has(spec.name)) continue;
      const value = options.env[spec.env];
      if (value === undefined || value === '') continue;
      const shown = `$${spec.env}`;
      switch (spec.kind) {
        case 'string':
          flags.set(spec.name, value, false);
          break;
        case 'strings':
          flags.set(spec.name, [value], false);
          break;
        case 'int':
        case 'count':
          flags.set(spec.name, parseInteger(value, shown), false);
          break;
        case 'boolean':
          flags.set(spec.name, parseBoolean(value, shown), false);
          break;
      }
    }
  }

  return { flags, positionals, rest };
}

function parseBoolean(value: string, shown: string): boolean {
  // strconv.ParseBool's accepted spellings
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(value)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(value)) return false;
  throw usage(`invalid argument ${JSON.stringify(value)} for ${shown}: want true or false`);
}

function parseInteger(value: string, shown: string): number {
  if (!/^[+-]?\d+$/.test(value)) throw usage(`invalid argument ${JSON.stringify(value)} for ${shown}: want an integer`);
  const n = Number(value);
  if (!Number.isSafeInteger(n)) throw usage(`invalid argument ${JSON.stringify(value)} for ${shown}: out of range`);
  return n;
}

/** Help text lines for a list of flags, aligned like cobra's. */
export function formatFlagHelp(specs: readonly FlagSpec[]): string {
  const rows = specs
    .filter((s) => !s.hidden)
    .map((s) => {
      const short = s.short !== undefined ? `-${s.short}, ` : '    ';
      const value = s.kind === 'boolean' || s.kind === 'count' ? '' : ` ${s.valueName ?? (s.kind === 'int' ? 'n' : 'string')}`;
      const env = s.env !== undefined ? ` (default: $${s.env})` : '';
      return { left: `  ${short}--${s.name}${value}`, right: s.description + env };
    });
  const width = Math.max(0, ...rows.map((r) => r.left.length));
  return rows.map((r) => `${r.left.padEnd(width)}   ${r.right}`).join('\n');
}
