/**
 * Errors that reach users. Every error carries a stable `code` (for --json output,
 * HTTP bodies and tests) and a message that says what went wrong; `hint` says what
 * to do about it.
 */
export class DvxError extends Error {
  readonly code: string;
  readonly hint: string | undefined;
  constructor(code: string, message: string, hint?: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DvxError';
    this.code = code;
    this.hint = hint;
  }
}

/** A decoder met bytes that are not the one canonical encoding of a value. */
export class FormatError extends DvxError {
  constructor(what: string, detail: string) {
    super('bad_format', `${what}: ${detail}`);
    this.name = 'FormatError';
  }
}

export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
