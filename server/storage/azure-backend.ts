import { DefaultAzureCredential } from '@azure/identity';
import { BlobServiceClient, type ContainerClient, type StoragePipelineOptions } from '@azure/storage-blob';
import type { Readable } from 'node:stream';
import type { StorageBackend, StoredObject } from './backend.ts';
import { ObjectMissing, ObjectTruncated, StorageUnavailable } from './errors.ts';

/**
 * Azure Blob backend: an object is a block blob named by its key in one
 * container. Puts carry `If-None-Match: *`, so an existing blob is never
 * overwritten and a 409/412 answer means "already there".
 *
 * The SDK's retry budget is small and configurable (DVX_AZURE_MAX_TRIES,
 * DVX_AZURE_TRY_TIMEOUT_MS): when storage is down, a request should fail with
 * 503 in about a second, not hang for the SDK's default minute of retries.
 */
export interface AzureOptions {
  connectionString?: string;
  accountUrl?: string;
  container: string;
  maxTries: number;
  tryTimeoutMs: number;
  retryDelayMs: number;
}

/** Reads of one range are split in blocks fetched in parallel. */
const READ_BLOCK = 4 << 20;
const READ_CONCURRENCY = 4;

export class AzureBackend implements StorageBackend {
  readonly kind = 'azure' as const;
  private readonly container: ContainerClient;
  private ready: Promise<void> | undefined;

  constructor(private readonly opts: AzureOptions) {
    const pipeline: StoragePipelineOptions = {
      retryOptions: {
        maxTries: opts.maxTries,
        tryTimeoutInMs: opts.tryTimeoutMs,
        retryDelayInMs: Math.max(1, opts.retryDelayMs),
        maxRetryDelayInMs: Math.max(1, opts.retryDelayMs * 10),
      },
    };
    const service = opts.connectionString
      ? BlobServiceClient.fromConnectionString(opts.connectionString, pipeline)
      : new BlobServiceClient(opts.accountUrl!, new DefaultAzureCredential(), pipeline);
    this.container = service.getContainerClient(opts.container);
  }

  get location(): string {
    return this.container.url;
  }

  private fail(err: unknown, op: string, key: string): Error {
    if (err instanceof StorageUnavailable || err instanceof ObjectMissing || err instanceof ObjectTruncated) return err;
    const e = err as { statusCode?: number; code?: string; name?: string; message?: string; details?: { errorCode?: string } };
    const code = e.details?.errorCode ?? e.code;
    if (e.statusCode === 404 && code === 'ContainerNotFound') {
      this.ready = undefined;
      return new StorageUnavailable('azure', op, `container ${this.opts.container} does not exist`, { cause: err });
    }
    if (e.statusCode === 404) return new ObjectMissing(key, { cause: err });
    if (e.statusCode === 416) return new ObjectTruncated(key, 'range beyond the end');
    if (e.statusCode === undefined || e.statusCode >= 500 || e.statusCode === 408 || e.statusCode === 429 || e.name === 'AbortError') {
      return new StorageUnavailable('azure', op, code ?? e.name ?? 'no answer', { cause: err });
    }
    if (e.statusCode === 401 || e.statusCode === 403) {
      return new StorageUnavailable('azure', op, `access denied (${code ?? e.statusCode}): check the credentials of the storage account`, { cause: err });
    }
    return err instanceof Error ? err : new Error(String(err));
  }

  /** The container is created on first use, and again after it failed to answer. */
  private ensure(): Promise<void> {
    this.ready ??= this.container.createIfNotExists().then(
      () => undefined,
      (err) => {
        this.ready = undefined;
        throw this.fail(err, 'create container', this.opts.container);
      },
    );
    return this.ready;
  }

  async init(): Promise<void> {
    await this.ensure();
  }

  async prepareFile(): Promise<void> {
    // The upload reads the file as it is; nothing to start early.
  }

  async putFile(key: string, path: string): Promise<boolean> {
    await this.ensure();
    try {
      await this.container.getBlockBlobClient(key).uploadFile(path, { conditions: { ifNoneMatch: '*' }, blockSize: 8 << 20, concurrency: 4 });
      return true;
    } catch (err) {
      const status = (err as { statusCode?: number }).statusCode;
      if (status === 409 || status === 412) return false;
      throw this.fail(err, 'put', key);
    }
  }

  async readInto(key: string, offset: number, length: number, into: Buffer): Promise<void> {
    await this.ensure();
    try {
      await this.container.getBlobClient(key).downloadToBuffer(into.subarray(0, length), offset, length, {
        blockSize: READ_BLOCK,
        concurrency: READ_CONCURRENCY,
        maxRetryRequestsPerBlock: 1,
      });
    } catch (err) {
      throw this.fail(err, 'read', key);
    }
  }

  async readStream(key: string, offset = 0, length?: number): Promise<Readable> {
    await this.ensure();
    try {
      const res = await this.container.getBlobClient(key).download(offset, length, { maxRetryRequests: 1 });
      return res.readableStreamBody as Readable;
    } catch (err) {
      throw this.fail(err, 'read', key);
    }
  }

  async size(key: string): Promise<number | undefined> {
    await this.ensure();
    try {
      return (await this.container.getBlobClient(key).getProperties()).contentLength;
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode === 404 && (err as { details?: { errorCode?: string } }).details?.errorCode !== 'ContainerNotFound') return undefined;
      throw this.fail(err, 'stat', key);
    }
  }

  async *list(prefix: string): AsyncIterable<StoredObject> {
    await this.ensure();
    try {
      for await (const b of this.container.listBlobsFlat({ prefix })) {
        yield { key: b.name, size: b.properties.contentLength ?? 0, lastModified: b.properties.lastModified };
      }
    } catch (err) {
      throw this.fail(err, 'list', prefix);
    }
  }

  async delete(key: string): Promise<void> {
    await this.ensure();
    try {
      await this.container.getBlobClient(key).deleteIfExists();
    } catch (err) {
      throw this.fail(err, 'delete', key);
    }
  }

  async ping(): Promise<void> {
    await this.ensure();
    try {
      await this.container.getProperties();
    } catch (err) {
      throw this.fail(err, 'ping', this.opts.container);
    }
  }

  async close(): Promise<void> {}
}
