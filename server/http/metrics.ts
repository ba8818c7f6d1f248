import { Counter, collectDefaultMetrics, Histogram, Registry } from 'prom-client';

/**
 * Prometheus metrics of one server process. Route labels are route patterns
 * (`/api/v1/repos/:repo/packs/:pack`), never raw URLs, so their number stays
 * bounded whatever clients send.
 */
export class Metrics {
  readonly registry = new Registry();
  readonly requests: Counter<'route' | 'method' | 'status'>;
  readonly duration: Histogram<'route' | 'method'>;
  readonly bytesIn: Counter<'route'>;
  readonly bytesOut: Counter<'route'>;
  readonly storageErrors: Counter<'backend' | 'code'>;
  readonly blobsStored: Counter<'source'>;

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'dvx_' });
    const registers = [this.registry];
    this.requests = new Counter({ name: 'dvx_http_requests_total', help: 'HTTP requests answered', labelNames: ['route', 'method', 'status'], registers });
    this.duration = new Histogram({
      name: 'dvx_http_request_duration_seconds',
      help: 'time from request to the end of the response',
      labelNames: ['route', 'method'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    });
    this.bytesIn = new Counter({ name: 'dvx_http_request_bytes_total', help: 'bytes received (headers and bodies)', labelNames: ['route'], registers });
    this.bytesOut = new Counter({ name: 'dvx_http_response_bytes_total', help: 'bytes sent (headers and bodies)', labelNames: ['route'], registers });
    this.storageErrors = new Counter({ name: 'dvx_storage_errors_total', help: 'storage failures seen by requests', labelNames: ['backend', 'code'], registers });
    this.blobsStored = new Counter({ name: 'dvx_packs_stored_total', help: 'packs newly stored', labelNames: ['source'], registers });
  }
}
