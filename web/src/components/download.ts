import { downloadLink, encPath, enc } from '../api.ts';
import { h } from '../dom.ts';

/**
 * A download link. A plain <a href> cannot carry the Authorization header, so
 * a click first asks the server (with the header) for a signed URL that is
 * valid for minutes and for this one file, then lets the browser download it
 * itself: its progress, and its resume with Range requests, work as for any
 * link. The href is the file's API URL, so copying the link gives the URL a
 * script would fetch with its own token.
 */
export function downloadButton(opts: { repo: string; ref: string; path: string; label?: string; dir?: boolean }): HTMLAnchorElement {
  const apiHref = `/api/v1/repos/${enc(opts.repo)}/files/${enc(opts.ref)}/${encPath(opts.path)}${opts.dir ? '?format=tar' : ''}`;
  const name = opts.path.slice(opts.path.lastIndexOf('/') + 1) + (opts.dir ? '.tar' : '');
  const a = h('a', { href: apiHref, class: 'download', 'data-download': opts.path }, opts.label ?? 'download');
  a.addEventListener('click', async (ev) => {
    ev.preventDefault();
    try {
      const { url } = await downloadLink(opts.repo, opts.ref, opts.path);
      const signed = opts.dir ? `${url}&format=tar` : url;
      const tmp = h('a', { href: signed, download: name });
      document.body.appendChild(tmp);
      tmp.click();
      tmp.remove();
    } catch (err) {
      a.replaceWith(h('span', { class: 'error' }, `download failed: ${(err as Error).message}`));
    }
  });
  return a;
}
