/** Assertions on the ResticError a synchronous call throws. */
import { expect } from 'vitest';
import { isResticError, type ErrorCode } from '../../src/errors.js';

/**
 * Calls `fn`, expects it to throw a ResticError with `code`, and returns the error's message;
 * fails the test when `fn` returns normally or throws anything else.
 */
export function resticErrorMessage(fn: () => unknown, code: ErrorCode): string {
  try {
    fn();
  } catch (err) {
    expect(isResticError(err, code), String(err)).toBe(true);
    return (err as Error).message;
  }
  throw new Error(`expected a ${code} error`);
}

/** `resticErrorMessage`, and the message must contain every one of `fragments`. */
export function expectResticError(fn: () => unknown, code: ErrorCode, ...fragments: string[]): void {
  const message = resticErrorMessage(fn, code);
  for (const f of fragments) expect(message).toContain(f);
}
