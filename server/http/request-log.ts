import { randomUUID } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import type { Logger } from '../logger.ts';
import type { Metrics } from './metrics.ts';

/**
 * One log line and one set of metrics per request, written when the response
 * ends (or the client goes away). A request id (the client's X-Request-Id when
 * it is sane, else a new one) ties the log line to the error message the
 * client saw.
 */
declare module 'express-serve-static-core' {
  interface Request {
    id: string;
  }
}

const ID_RE = /^[A-Za-z0-9._-]{1,64}$/;

export function routeLabel(req: Request): string {
  const path = req.route?.path;
  if (typeof path === 'string') return (req.baseUrl ?? '') + path;
  return 'unmatched';
}

export function requestLog(logger: Logger, metrics: Metrics) {
  return (req: Request, res: Response, next: NextFunction) => {
    const start = process.hrtime.bigint();
    const given = req.headers['x-request-id'];
    req.id = typeof given === 'string' && ID_RE.test(given) ? given : randomUUID();
    res.setHeader('X-Request-Id', req.id);
    const socket = req.socket;
    const readAtStart = socket.bytesRead;
    const writtenAtStart = socket.bytesWritten;
    let done = false;
    const finish = (event: 'finish' | 'close') => {
      if (done) return;
      done = true;
      const seconds = Number(process.hrtime.bigint() - start) / 1e9;
      const route = routeLabel(req);
      const status = event === 'close' && !res.writableFinished ? 499 : res.statusCode;
      const bytesIn = Math.max(0, socket.bytesRead - readAtStart);
      const bytesOut = Math.max(0, socket.bytesWritten - writtenAtStart);
      metrics.requests.inc({ route, method: req.method, status: String(status) });
      metrics.duration.observe({ route, method: req.method }, seconds);
      metrics.bytesIn.inc({ route }, bytesIn);
      metrics.bytesOut.inc({ route }, bytesOut);
      const line = { reqId: req.id, method: req.method, path: req.path, route, status, ms: Math.round(seconds * 1000 * 10) / 10, bytesIn, bytesOut };
      if (status >= 500) logger.warn(line, 'request');
      else logger.info(line, 'request');
    };
    res.on('finish', () => finish('finish'));
    res.on('close', () => finish('close'));
    next();
  };
}
