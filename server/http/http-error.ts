import { DvxError, FormatError } from '../../core/errors.ts';
import { StorageUnavailable } from '../storage/errors.ts';
import { PackDamaged, PackMissing, StoreRefusal, VerificationFailed } from '../store/errors.ts';

/**
 * Every error answer is `{error: {code, message}}` with the right status
 * (docs/protocol.md). Messages come from the server's own error classes; for
 * anything unexpected the client gets a generic message with the request id,
 * and the details go to the log only, so no stack trace or path ever leaks.
 */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

export interface ErrorAnswer {
  status: number;
  code: string;
  message: string;
  headers: Record<string, string>;
  /** whether the log should carry the full error (unexpected ones) */
  unexpected: boolean;
}

const MULTER_413 = new Set(['LIMIT_FILE_SIZE', 'LIMIT_FILE_COUNT', 'LIMIT_PART_COUNT', 'LIMIT_FIELD_COUNT', 'LIMIT_FIELD_VALUE', 'LIMIT_FIELD_KEY']);

export function answerFor(err: unknown, requestId: string): ErrorAnswer {
  const a = (status: number, code: string, message: string, headers: Record<string, string> = {}, unexpected = false): ErrorAnswer => ({ status, code, message, headers, unexpected });
  if (err instanceof HttpError) return a(err.status, err.code, err.message, err.headers);
  if (err instanceof StoreRefusal) return a(err.status, err.code, err.message);
  if (err instanceof VerificationFailed) return a(422, err.code, err.message);
  if (err instanceof StorageUnavailable) return a(503, err.code, 'storage is unavailable right now; retry later', { 'Retry-After': '5' });
  if (err instanceof PackDamaged || err instanceof PackMissing) return a(500, err.code, err.message);
  if (err instanceof FormatError) return a(400, 'bad_request', err.message);
  if (err instanceof DvxError && err.code === 'bad_repo_name') return a(400, err.code, err.message);
  const e = err as { name?: string; code?: string; type?: string; status?: number; statusCode?: number; field?: string };
  if (e?.name === 'MulterError') {
    if (MULTER_413.has(e.code ?? '')) return a(413, 'too_large', multerMessage(e.code!));
    return a(400, 'bad_multipart', e.code === 'LIMIT_UNEXPECTED_FILE' ? `unexpected file field ${JSON.stringify(String(e.field ?? ''))}` : 'the multipart form is not acceptable');
  }
  // body-parser and busboy errors carry a type or a 4xx status
  switch (e?.type) {
    case 'entity.too.large':
      return a(413, 'too_large', 'the request body is larger than this route accepts');
    case 'entity.parse.failed':
      return a(400, 'bad_json', 'the request body is not valid JSON');
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return a(415, 'unsupported_media_type', 'the request body has an unsupported encoding or charset');
    case 'request.aborted':
      return a(400, 'aborted', 'the request was aborted');
    case 'request.size.invalid':
      return a(400, 'bad_request', 'the request body does not match its Content-Length');
  }
  const status = e?.status ?? e?.statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    if (err instanceof Error && /multipart|boundary|part header|end of form/i.test(err.message)) return a(400, 'bad_multipart', 'the multipart body is malformed');
    return a(status, 'bad_request', 'the request is malformed');
  }
  if (err instanceof Error && /multipart|boundary|part header|end of form/i.test(err.message) && !(err instanceof DvxError)) {
    return a(400, 'bad_multipart', 'the multipart body is malformed');
  }
  return a(500, 'internal', `internal error; the server log has the details under request id ${requestId}`, {}, true);
}

function multerMessage(code: string): string {
  switch (code) {
    case 'LIMIT_FILE_SIZE':
      return 'a file is larger than this server accepts (DVX_MAX_UPLOAD_BYTES)';
    case 'LIMIT_FILE_COUNT':
      return 'too many files in one upload';
    default:
      return 'the multipart form has too many or too large parts';
  }
}
