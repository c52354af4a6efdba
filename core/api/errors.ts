// Errors that cross the API boundary: a stable code, a sentence for the user, and what to do.
import { z } from 'zod';

export const API_ERROR_CODES = [
  'bad_request', // the message failed validation
  'unknown_method',
  'not_found',
  'empty_file',
  'binary_file',
  'unsupported_format',
  'bad_encoding',
  'too_large',
  'unreadable',
  'db_too_new',
  'cancelled',
  'unauthorized',
  'conflict', // the request clashes with the current state (delete the model that reads, a second fine-tune)
  'unavailable', // not offered by this transport (e.g. a native dialog in the browser host), or the model cannot start
  'internal',
] as const;
export type ApiErrorCode = (typeof API_ERROR_CODES)[number];

/** An error as it crosses a boundary (an API response, a worker's message): the one declaration of its shape. */
export const ApiErrorShape = z.object({ code: z.enum(API_ERROR_CODES), message: z.string(), hint: z.string().optional() });
export type ApiErrorShape = z.infer<typeof ApiErrorShape>;

/** The same shape where it is received or read back rather than made (a response, a stored
 * reading's or fine-tune's error): any code reads, so one from a newer core or an older library
 * still shows its message. */
export const ErrorInfo = ApiErrorShape.extend({ code: z.string() });
export type ErrorInfo = z.infer<typeof ErrorInfo>;

export class ApiError extends Error implements ApiErrorShape {
  constructor(
    readonly code: ApiErrorCode,
    message: string,
    readonly hint?: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }

  toJSON(): ApiErrorShape {
    return this.hint === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, hint: this.hint };
  }

  static from(e: unknown): ApiError {
    if (e instanceof ApiError) return e;
    const message = e instanceof Error ? e.message : String(e);
    return new ApiError('internal', `Unexpected error: ${message}`, 'Please report this; nothing in your library was changed.');
  }
}
