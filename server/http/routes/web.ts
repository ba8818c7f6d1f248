import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import express, { type Express, type Request, type Response } from 'express';
import { HttpError } from '../http-error.ts';

/**
 * The web UI (web/, built by scripts/build.mjs into dist/web): index.html at
 * `/`, its hashed scripts and styles under `/assets/`. These need no token —
 * they hold no data; every data call the page makes sends the token itself.
 *
 * The policy allows only the server's own scripts and styles: no inline
 * script, no eval, no framing, nothing from another origin. uPlot sizes its
 * elements through the CSSOM (element.style), which style-src does not govern.
 */
export const UI_HEADERS = {
  'Content-Security-Policy':
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  'Referrer-Policy': 'no-referrer',
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Resource-Policy': 'same-origin',
} as const;

/** dist/web beside the compiled server (dist/server/http/routes → dist/web), or the repository's dist/web when running from source. */
export function defaultWebDir(): string {
  const beside = fileURLToPath(new URL('../../../web/', import.meta.url));
  if (existsSync(join(beside, 'assets'))) return beside;
  return fileURLToPath(new URL('../../../dist/web/', import.meta.url));
}

export function webRoutes(app: Express, dir: string = defaultWebDir()): void {
  const index = join(dir, 'index.html');
  app.get('/', (_req: Request, res: Response) => {
    if (!existsSync(index)) throw new HttpError(404, 'ui_not_built', 'the web UI is not built: run `npm run build`');
    // The page names its hashed assets: it must be revalidated, they need not.
    res.set({ ...UI_HEADERS, 'Cache-Control': 'no-cache' });
    res.sendFile(index);
  });
  app.use(
    '/assets',
    express.static(join(dir, 'assets'), {
      index: false,
      redirect: false,
      dotfiles: 'ignore',
      fallthrough: true,
      etag: true,
      setHeaders: (res, path) => {
        res.set(UI_HEADERS);
        // Content-hashed names never change content; the icon's name is fixed.
        res.set('Cache-Control', /-[A-Z0-9]{8}\.(js|css|map)$/.test(path) ? 'public, max-age=31536000, immutable' : 'public, max-age=3600');
      },
    }),
  );
  app.use('/assets', (req: Request, _res: Response, next: (err: unknown) => void) => {
    next(new HttpError(404, 'not_found', `no asset ${req.path.slice(0, 200)}`));
  });
}
