/**
 * A hash router: `#/r/churn/runs?status=failed`. State that a page shows
 * (filters, sort, page) lives in the hash, so every view is a link.
 */
export interface Route {
  /** decoded path segments */
  parts: string[];
  query: URLSearchParams;
}

export function current(): Route {
  const raw = location.hash.replace(/^#/, '') || '/';
  const [path = '/', query = ''] = raw.split('?', 2) as [string, string?];
  const parts = path.split('/').filter(Boolean).map((p) => {
    try {
      return decodeURIComponent(p);
    } catch {
      return p;
    }
  });
  return { parts, query: new URLSearchParams(query) };
}

/** Builds `#/a/b?x=1` from segments (encoded here) and a query. */
export function href(parts: string[], query?: Record<string, string | number | undefined | null | string[]> | URLSearchParams): string {
  const path = '#/' + parts.map(encodeURIComponent).join('/');
  let qs = '';
  if (query instanceof URLSearchParams) qs = query.toString();
  else if (query) {
    const u = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) {
      if (v === undefined || v === null || v === '') continue;
      for (const x of Array.isArray(v) ? v : [v]) u.append(k, String(x));
    }
    qs = u.toString();
  }
  return qs ? `${path}?${qs}` : path;
}

export function go(to: string): void {
  if (location.hash === to) window.dispatchEvent(new HashChangeEvent('hashchange'));
  else location.hash = to;
}
