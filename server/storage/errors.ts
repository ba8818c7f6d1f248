import { DvxError } from '../../core/errors.ts';

/**
 * Storage failures as the rest of the server sees them: either the object is
 * not there (a fact about the data), or storage cannot be reached right now (a
 * fact about the moment: answered 503 with Retry-After, never retried at length).
 */
export class StorageUnavailable extends DvxError {
  constructor(readonly backend: string, readonly op: string, detail: string, options?: { cause?: unknown }) {
    super('storage_unavailable', `storage is unavailable (${backend} ${op}: ${detail})`, 'retry later; if it persists, check the storage backend', options);
    this.name = 'StorageUnavailable';
  }
}

export class ObjectMissing extends DvxError {
  constructor(readonly key: string, options?: { cause?: unknown }) {
    super('object_missing', `storage has no object ${key}`, 'run `dvx-server fsck` to see what is affected', options);
    this.name = 'ObjectMissing';
  }
}

export class ObjectTruncated extends DvxError {
  constructor(readonly key: string, detail: string) {
    super('object_truncated', `storage object ${key} is shorter than expected: ${detail}`, 'run `dvx-server fsck`');
    this.name = 'ObjectTruncated';
  }
}
