/**
 * Shared rendering for the CLI: restic-style text tables, Go-style indented JSON, local
 * timestamps as restic prints them, and a throttled progress line for terminals.
 *
 * Commands never write to `process.stdout` directly; they get an `Output` so tests can run
 * `main()` in-process and capture what would be printed.
 */
import type { GoTime } from '../format/gotime.js';

/** Something bytes can be written to (a stream, or a test's buffer). */
export interface Sink {
  write(chunk: string | Uint8Array): unknown;
  /** True when the sink is a terminal (enables progress lines and the "opened" message). */
  isTTY?: boolean;
}

/** A sink that collects everything written to it (for tests and for capturing output). */
export class BufferSink implements Sink {
  private readonly chunks: Buffer[] = [];
  isTTY = false;

  write(chunk: string | Uint8Array): boolean {
    this.chunks.push(typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : Buffer.from(chunk));
    return true;
  }

  bytes(): Buffer {
    return Buffer.concat(this.chunks);
  }

  text(): string {
    return this.bytes().toString('utf8');
  }
}

export interface OutputOptions {
  json: boolean;
  quiet: boolean;
  verbosity: number;
}

export class Output {
  constructor(
    readonly stdout: Sink,
    readonly stderr: Sink,
    readonly options: OutputOptions,
  ) {}

  /** Prints a line (or raw text when it already ends with a newline) to stdout. */
  print(text: string): void {
    this.stdout.write(text.endsWith('\n') ? text : text + '\n');
  }

  /** Raw bytes to stdout (cat pack/blob, dump). */
  raw(data: Uint8Array): void {
    this.stdout.write(data);
  }

  /** Informational line, suppressed by --quiet and --json (restic's Verbosef at level 1). */
  info(text: string): void {
    if (this.options.quiet || this.options.json) return;
    this.print(text);
  }

  /** Printed only with -v (level 2) or more. */
  verbose(text: string, level = 2): void {
    if (this.options.json || this.options.verbosity < level) return;
    this.print(text);
  }

  /** Warnings go to stderr, always (restic's Warnf). */
  warn(text: string): void {
    this.stderr.write(text.endsWith('\n') ? text : text + '\n');
  }

  /** One JSON document per line, as Go's json.Encoder writes it. */
  jsonLine(text: string): void {
    this.stdout.write(text + '\n');
  }

  /**
   * A progress line for terminals: rewritten in place (`\r`), at most every 100 ms, never in
   * --json or --quiet mode and never when stderr is not a terminal.
   */
  progress(): ProgressLine {
    const enabled = !this.options.json && !this.options.quiet && this.stderr.isTTY === true;
    return new ProgressLine(this.stderr, enabled);
  }
}

export class ProgressLine {
  private last = 0;
  private shown = false;

  constructor(
    private readonly sink: Sink,
    private readonly enabled: boolean,
  ) {}

  update(text: string, force = false): void {
    if (!this.enabled) return;
    const now = Date.now();
    if (!force && now - this.last < 100) return;
    this.last = now;
    this.sink.write(`\r\x1b[2K${text}`);
    this.shown = true;
  }

  /** Clears the line so the next output starts at column 0. */
  done(): void {
    if (this.enabled && this.shown) this.sink.write('\r\x1b[2K');
    this.shown = false;
  }
}

// ---------------------------------------------------------------------------------------------
// Tables (restic's internal/ui/table)

export interface TableColumn<Row> {
  header: string;
  /** Cell text; may contain `\n` for multi-line cells. */
  cell: (row: Row) => string;
}

export interface TableOptions {
  footer?: string[];
  /** Print a blank line between rows (restic does this when a row spans several lines). */
  blankLineBetweenRows?: boolean;
}

/** Go's len(): widths are counted in bytes, as restic does, so non-ASCII text pads alike. */
function byteLength(s: string): number {
  return Buffer.byteLength(s, 'utf8');
}

/**
 * Renders a table exactly like restic's `ui/table`: two-space cell separator, columns padded
 * to the widest cell (in bytes), trailing spaces trimmed, a dash line under the header and
 * after the rows, then the footer lines.
 */
export function renderTable<Row>(columns: TableColumn<Row>[], rows: Row[], options: TableOptions = {}): string {
  if (columns.length === 0) return '';
  const sep = '  ';
  const cells = rows.map((row) => columns.map((c) => c.cell(row)));
  const widths = columns.map((c) => Math.max(...c.header.split('\n').map(byteLength)));
  for (const row of cells) {
    row.forEach((cell, i) => {
      for (const line of cell.split('\n')) widths[i] = Math.max(widths[i], byteLength(line));
    });
  }
  const total = widths.reduce((a, b) => a + b, 0) + (columns.length - 1) * sep.length;
  const out: string[] = [];
  const renderRow = (fields: string[]): string[] => {
    const split = fields.map((f) => f.split('\n'));
    const lines = Math.max(1, ...split.map((l) => l.length));
    const result: string[] = [];
    for (let i = 0; i < lines; i++) {
      let s = '';
      split.forEach((fieldLines, col) => {
        let v = fieldLines[i] ?? '';
        const pad = widths[col] - byteLength(v);
        if (pad > 0) v += ' '.repeat(pad);
        s += col > 0 ? sep + v : v;
      });
      result.push(s.replace(/ +$/, ''));
    }
    return result;
  };
  out.push(...renderRow(columns.map((c) => c.header)));
  out.push('-'.repeat(total));
  cells.forEach((row, i) => {
    if (options.blankLineBetweenRows && i > 0) out.push('');
    out.push(...renderRow(row));
  });
  out.push('-'.repeat(total));
  out.push(...(options.footer ?? []));
  return out.join('\n') + '\n';
}

// ---------------------------------------------------------------------------------------------
// JSON

/**
 * Go's `json.Indent(dst, compact, "", indent)`: what `json.MarshalIndent` prints. Empty
 * objects and arrays stay `{}` / `[]`; `:` is followed by one space. The input must be the
 * compact encoding (no insignificant whitespace), which is what our encoders produce.
 */
export function indentJson(compact: string, indent = '  '): string {
  let out = '';
  let depth = 0;
  let inString = false;
  let needIndent = false; // a `{`/`[` was just written; break the line unless it closes at once
  const newline = (): string => '\n' + indent.repeat(depth);
  for (let i = 0; i < compact.length; i++) {
    const c = compact[i];
    if (inString) {
      out += c;
      if (c === '\\') {
        out += compact[++i];
      } else if (c === '"') {
        inString = false;
      }
      continue;
    }
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') continue;
    if (needIndent && c !== '}' && c !== ']') {
      needIndent = false;
      depth++;
      out += newline();
    }
    switch (c) {
      case '"':
        inString = true;
        out += c;
        break;
      case '{':
      case '[':
        out += c;
        needIndent = true;
        break;
      case ',':
        out += c + newline();
        break;
      case ':':
        out += ': ';
        break;
      case '}':
      case ']':
        if (needIndent) {
          needIndent = false; // empty: `{}` / `[]`
        } else {
          depth--;
          out += newline();
        }
        out += c;
        break;
      default:
        out += c;
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Times

/** The instant in the local zone of this process (Go's `t.Local()`), honouring $TZ. */
export function localTime(t: GoTime): GoTime {
  const offset = -new Date(t.unixSeconds * 1000).getTimezoneOffset() * 60;
  return t.withOffset(offset);
}

/** restic's `TimeFormat` "2006-01-02 15:04:05" in the local zone. */
export function formatLocalTime(t: GoTime): string {
  const w = localTime(t).wall();
  const p = (n: number, width = 2): string => String(n).padStart(width, '0');
  return `${p(w.year, 4)}-${p(w.month)}-${p(w.day)} ${p(w.hour)}:${p(w.minute)}:${p(w.second)}`;
}

/** restic 0.14's `formatBytes` (binary units, three decimals, strictly above each unit). */
export function formatBytes(n: number): string {
  const KiB = 1024;
  const MiB = KiB * 1024;
  const GiB = MiB * 1024;
  const TiB = GiB * 1024;
  if (n > TiB) return `${threeDecimals(n, TiB)} TiB`;
  if (n > GiB) return `${threeDecimals(n, GiB)} GiB`;
  if (n > MiB) return `${threeDecimals(n, MiB)} MiB`;
  if (n > KiB) return `${threeDecimals(n, KiB)} KiB`;
  return `${n} B`;
}

/**
 * `n / unit` with three decimals as Go's `%.3f` prints it. The quotient by a power of two is
 * exact, so a value such as 798.3125 is a true tie, which Go rounds to even (798.312) where
 * JS `toFixed` rounds up (798.313). Integer arithmetic reproduces Go's choice.
 */
function threeDecimals(n: number, unit: number): string {
  if (!Number.isInteger(n)) return (n / unit).toFixed(3);
  const scaled = BigInt(n) * 1000n;
  const u = BigInt(unit);
  let q = scaled / u;
  const twiceRest = (scaled % u) * 2n;
  if (twiceRest > u || (twiceRest === u && q % 2n === 1n)) q += 1n;
  const whole = q / 1000n;
  return `${whole}.${String(q % 1000n).padStart(3, '0')}`;
}
