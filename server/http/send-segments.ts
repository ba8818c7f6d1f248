import type { Response } from 'express';
import type { Logger } from '../logger.ts';
import type { SegmentSource } from '../store/segment-source.ts';

/**
 * Writes a primed SegmentSource to a response: the first bytes were read (and
 * checked) before the status line went out, so a missing or damaged pack is a
 * proper error answer. A failure after that can only cut the connection, which
 * clients detect by the short body (Content-Length) and the sha256 (ETag).
 */
export async function sendSegments(res: Response, source: SegmentSource, first: Buffer | null, logger: Logger, reqId: string, tail?: Buffer): Promise<void> {
  let gone = false;
  res.once('close', () => {
    gone = true;
    source.cancel();
  });
  // Small views (a stream's 16-64 KiB chunks) written in one event-loop turn go out in one writev.
  let corked = false;
  const write = (view: Buffer, release: boolean) =>
    new Promise<void>((resolve) => {
      if (!corked && view.length < 1 << 20) {
        corked = true;
        res.cork();
        setImmediate(() => {
          corked = false;
          res.uncork();
        });
      }
      const ok = res.write(view, () => {
        if (release) source.release(view);
      });
      if (ok || gone) return resolve();
      const onDrain = () => {
        res.off('close', onDrain);
        res.off('drain', onDrain);
        resolve();
      };
      res.on('drain', onDrain);
      res.on('close', onDrain);
    });
  try {
    let view = first;
    while (view && !gone) {
      await write(view, true);
      if (gone) break;
      view = await source.next();
    }
    if (gone) return;
    if (tail) await write(tail, false);
    res.end();
  } catch (err) {
    source.cancel();
    logger.error({ reqId, err: { code: (err as { code?: string }).code, message: (err as Error).message } }, 'response cut: reading stored data failed mid-stream');
    res.destroy();
  }
}
