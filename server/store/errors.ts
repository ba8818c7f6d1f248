import { DvxError } from '../../core/errors.ts';

/**
 * Store errors the HTTP layer answers with a status of their own. Messages name
 * packs and blobs by id, never by server path.
 */

/** Uploaded content that fails verification: 422, nothing indexed. */
export class VerificationFailed extends DvxError {
  constructor(message: string) {
    super('verification_failed', message, 'nothing was stored; fix the content and upload it again');
    this.name = 'VerificationFailed';
  }
}

/** A stored pack whose bytes do not match its index: reads fail, fsck names it. */
export class PackDamaged extends DvxError {
  constructor(readonly pack: string, detail: string) {
    super('pack_damaged', `stored pack ${pack} is damaged: ${detail}`, 'an operator should run `dvx-server fsck`; the data must be pushed again');
    this.name = 'PackDamaged';
  }
}

/** The index names a pack that storage does not have. */
export class PackMissing extends DvxError {
  constructor(readonly pack: string) {
    super('pack_missing', `stored pack ${pack} is missing from storage`, 'an operator should run `dvx-server fsck`; the data must be pushed again');
    this.name = 'PackMissing';
  }
}

/** A request the store refuses as such (HTTP status given). */
export class StoreRefusal extends DvxError {
  constructor(readonly status: number, code: string, message: string) {
    super(code, message);
    this.name = 'StoreRefusal';
  }
}
