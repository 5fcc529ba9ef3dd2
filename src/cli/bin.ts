#!/usr/bin/env node
/**
 * The `restic-ts` executable: tunes V8 for a short-lived process, then runs the CLI.
 *
 * Why the tuning: V8 re-compiles a function with TurboFan once it has run a certain amount of
 * bytecode (the "interrupt budget"). A CLI run lasts a second or two, and with the default
 * budget about a hundred functions (file-system stats, node encoding, the saver's bookkeeping)
 * reached TurboFan during a backup of 5,000 small files, its background compile threads taking
 * ~0.4 s of CPU from the walk and the blob workers on a 2-core machine. With 8 times the budget
 * only the truly hot code (the chunker's loop, hashing loops) is optimised: 14 functions, and the
 * backup ran in 1.23 s instead of 1.37 s (interleaved medians of 15 runs; restic 0.14: 1.22 s);
 * large-file backups were unchanged (docs/benchmarks.md, "Fifth pass"). The flag is process-wide
 * (worker threads share it), so it is set here, before any other module loads — setting it after
 * the CLI's modules had loaded gained only half as much — and never by the library, which leaves
 * its host's V8 alone. Only this flag is set at run time: V8's GC flags cannot be (changing
 * `--single-threaded-gc` that way aborts the process). Its one known cost: any V8 flag changes
 * the hash Node's built-in code cache is checked against, so built-in modules loaded afterwards
 * (here and in the blob workers) compile from source, ~20-50 ms per thread; setting the flag
 * later, after the workers had loaded, measured no better ("Sixth pass").
 */
import { setFlagsFromString } from 'node:v8';

/** V8's default budget (67,584 bytes of bytecode in V8 11, Node 20) times 8. */
const INTERRUPT_BUDGET = 8 * 67_584;

setFlagsFromString(`--interrupt-budget=${INTERRUPT_BUDGET}`);

const { runAsProcess } = await import('./main.js');
runAsProcess();
