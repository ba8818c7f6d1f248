import { resolve } from 'node:path';
import { z } from 'zod';

/**
 * dvx-server's configuration: every setting has an environment name and most a
 * command-line flag (flags win). Secrets (tokens, connection strings) are read
 * from the environment only, so they never show in `ps`. Validation names the
 * setting at fault, so a container that fails to start says which variable to fix.
 */
export interface SettingSpec {
  /** environment variable */
  readonly env: string;
  /** command-line flag, without dashes; absent for secrets */
  readonly flag?: string;
  readonly description: string;
  readonly default?: string;
}

export const SETTINGS = [
  { env: 'DVX_PORT', flag: 'port', description: 'TCP port to listen on (0: any free port)', default: '8080' },
  { env: 'DVX_HOST', flag: 'host', description: 'address to listen on', default: '0.0.0.0' },
  { env: 'DVX_DATA_DIR', flag: 'data-dir', description: 'folder of the SQLite index, temp files and, for the fs backend, the packs', default: './dvx-data' },
  { env: 'DVX_STORAGE', flag: 'storage', description: 'storage backend: fs or azure', default: 'fs' },
  { env: 'AZURE_STORAGE_CONNECTION_STRING', description: 'Azure Storage connection string (Azurite or a real account)' },
  { env: 'DVX_AZURE_ACCOUNT_URL', flag: 'azure-account-url', description: 'blob endpoint of an Azure account, authenticated with DefaultAzureCredential (managed identity)' },
  { env: 'DVX_AZURE_CONTAINER', flag: 'azure-container', description: 'blob container of the packs (created if missing)', default: 'dvx' },
  { env: 'DVX_AZURE_MAX_TRIES', flag: 'azure-max-tries', description: 'attempts per Azure request before storage counts as unavailable', default: '3' },
  { env: 'DVX_AZURE_TRY_TIMEOUT_MS', flag: 'azure-try-timeout-ms', description: 'time limit of one Azure request attempt, in milliseconds', default: '120000' },
  { env: 'DVX_AZURE_RETRY_DELAY_MS', flag: 'azure-retry-delay-ms', description: 'first delay between Azure retries, in milliseconds (doubles each time, at most 10x)', default: '200' },
  { env: 'DVX_ADMIN_TOKEN', description: 'bootstrap token with admin scope on every repository (at least 32 characters)' },
  { env: 'DVX_MAX_UPLOAD_BYTES', flag: 'max-upload-bytes', description: 'largest file accepted by plain uploads (bytes, or with a unit: 500MiB, 10GiB)', default: '10GiB' },
  { env: 'DVX_LFS_MAX_OBJECT_BYTES', flag: 'lfs-max-object-bytes', description: 'largest Git LFS object accepted (bytes, or with a unit); default: DVX_MAX_UPLOAD_BYTES' },
  { env: 'DVX_LOG_LEVEL', flag: 'log-level', description: 'fatal, error, warn, info, debug, trace or silent', default: 'info' },
  { env: 'DVX_GC_GRACE', flag: 'gc-grace', description: 'age under which gc leaves packs alone, and after which retired packs are deleted (e.g. 1h, 30m, 0s)', default: '1h' },
  { env: 'DVX_METRICS_TOKEN', description: 'if set, /metrics requires it as a bearer token' },
  { env: 'DVX_VERIFY_READS', flag: 'verify-reads', description: 'first: re-hash the blobs read before a response starts; all: every blob served (caps GET throughput at BLAKE3 speed)', default: 'first' },
] as const satisfies readonly SettingSpec[];

export type SettingName = (typeof SETTINGS)[number]['env'];
/** Every setting's environment name (docker-compose.yml may use only these). */
export const SETTING_NAMES: readonly SettingName[] = SETTINGS.map((s) => s.env);

export interface Config {
  port: number;
  host: string;
  dataDir: string;
  storage: 'fs' | 'azure';
  azure: {
    connectionString?: string;
    accountUrl?: string;
    container: string;
    maxTries: number;
    tryTimeoutMs: number;
    retryDelayMs: number;
  };
  adminToken?: string;
  maxUploadBytes: number;
  lfsMaxObjectBytes: number;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  gcGraceMs: number;
  metricsToken?: string;
  verifyReads: 'first' | 'all';
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join('\n'));
    this.name = 'ConfigError';
  }
}

const UNITS: Record<string, number> = { '': 1, b: 1, k: 1e3, kb: 1e3, kib: 1024, m: 1e6, mb: 1e6, mib: 1024 ** 2, g: 1e9, gb: 1e9, gib: 1024 ** 3, t: 1e12, tb: 1e12, tib: 1024 ** 4 };
export function parseBytes(s: string): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(s);
  if (!m) return undefined;
  const unit = UNITS[m[2]!.toLowerCase()];
  if (unit === undefined) return undefined;
  const n = Math.floor(Number(m[1]) * unit);
  return Number.isSafeInteger(n) ? n : undefined;
}

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
export function parseDuration(s: string): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/.exec(s);
  if (!m) return undefined;
  return Math.round(Number(m[1]) * DURATION_UNITS[m[2] ?? 's']!);
}

const got = (v: unknown) => `got ${JSON.stringify(v)}`;
const int = (min: number, max: number) =>
  z.string().transform((s, ctx) => {
    const n = Number(s);
    if (!/^\d+$/.test(s.trim()) || !Number.isSafeInteger(n) || n < min || n > max) {
      ctx.addIssue({ code: 'custom', message: `must be a whole number from ${min} to ${max}, ${got(s)}` });
      return z.NEVER;
    }
    return n;
  });
const oneOf = <T extends string>(values: readonly T[]) =>
  z.string().transform((s, ctx) => {
    if (!(values as readonly string[]).includes(s)) {
      ctx.addIssue({ code: 'custom', message: `must be ${values.slice(0, -1).join(', ')} or ${values[values.length - 1]}, ${got(s)}` });
      return z.NEVER;
    }
    return s as T;
  });
const secret = (minChars: number) =>
  z.string().refine((s) => s.length >= minChars && !/\s/.test(s), { message: `must be at least ${minChars} characters without spaces` }).optional();

const size = () =>
  z.string().transform((s, ctx) => {
    const n = parseBytes(s);
    if (n === undefined || n < 1) {
      ctx.addIssue({ code: 'custom', message: `must be a positive size such as 1073741824 or 10GiB, ${got(s)}` });
      return z.NEVER;
    }
    return n;
  });

const schema = z.object({
  DVX_PORT: int(0, 65535),
  DVX_HOST: z.string().min(1, 'must not be empty'),
  DVX_DATA_DIR: z.string().min(1, 'must not be empty'),
  DVX_STORAGE: oneOf(['fs', 'azure'] as const),
  AZURE_STORAGE_CONNECTION_STRING: z
    .string()
    .refine((s) => /(^|;)\s*(AccountName|BlobEndpoint|UseDevelopmentStorage)\s*=/i.test(s), { message: 'does not look like a connection string (no AccountName, BlobEndpoint or UseDevelopmentStorage)' })
    .optional(),
  DVX_AZURE_ACCOUNT_URL: z
    .string()
    .refine((s) => URL.canParse(s) && /^https?:$/.test(new URL(s).protocol), { message: 'must be an http(s) URL such as https://ACCOUNT.blob.core.windows.net' })
    .optional(),
  DVX_AZURE_CONTAINER: z.string().regex(/^(?=.{3,63}$)[a-z0-9]+(-[a-z0-9]+)*$/, 'must be 3-63 lowercase letters, digits and single hyphens (an Azure container name)'),
  DVX_AZURE_MAX_TRIES: int(1, 20),
  DVX_AZURE_TRY_TIMEOUT_MS: int(100, 3_600_000),
  DVX_AZURE_RETRY_DELAY_MS: int(0, 60_000),
  DVX_ADMIN_TOKEN: secret(32),
  DVX_MAX_UPLOAD_BYTES: size(),
  DVX_LFS_MAX_OBJECT_BYTES: size().optional(),
  DVX_LOG_LEVEL: oneOf(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const),
  DVX_GC_GRACE: z.string().transform((s, ctx) => {
    const n = parseDuration(s);
    if (n === undefined) {
      ctx.addIssue({ code: 'custom', message: `must be a duration such as 1h, 30m, 90s or 0s, ${got(s)}` });
      return z.NEVER;
    }
    return n;
  }),
  DVX_METRICS_TOKEN: secret(16),
  DVX_VERIFY_READS: oneOf(['first', 'all'] as const),
});

/**
 * Builds the configuration from the environment and flags (flags keyed by
 * environment name). Throws a ConfigError listing every bad setting by name.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, flags: Partial<Record<SettingName, string>> = {}): Config {
  const raw: Record<string, string | undefined> = {};
  for (const s of SETTINGS) {
    const v = flags[s.env] ?? env[s.env];
    raw[s.env] = v === undefined || v === '' ? ('default' in s ? s.default : undefined) : v;
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((i) => `${String(i.path[0])}: ${i.message}`));
  }
  const c = parsed.data;
  const problems: string[] = [];
  if (c.DVX_STORAGE === 'azure') {
    if (!c.AZURE_STORAGE_CONNECTION_STRING && !c.DVX_AZURE_ACCOUNT_URL) {
      problems.push('AZURE_STORAGE_CONNECTION_STRING: DVX_STORAGE=azure needs AZURE_STORAGE_CONNECTION_STRING (Azurite or an account key) or DVX_AZURE_ACCOUNT_URL (managed identity)');
    }
    if (c.AZURE_STORAGE_CONNECTION_STRING && c.DVX_AZURE_ACCOUNT_URL) {
      problems.push('DVX_AZURE_ACCOUNT_URL: set either AZURE_STORAGE_CONNECTION_STRING or DVX_AZURE_ACCOUNT_URL, not both');
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return {
    port: c.DVX_PORT,
    host: c.DVX_HOST,
    dataDir: resolve(c.DVX_DATA_DIR),
    storage: c.DVX_STORAGE,
    azure: {
      connectionString: c.AZURE_STORAGE_CONNECTION_STRING,
      accountUrl: c.DVX_AZURE_ACCOUNT_URL,
      container: c.DVX_AZURE_CONTAINER,
      maxTries: c.DVX_AZURE_MAX_TRIES,
      tryTimeoutMs: c.DVX_AZURE_TRY_TIMEOUT_MS,
      retryDelayMs: c.DVX_AZURE_RETRY_DELAY_MS,
    },
    adminToken: c.DVX_ADMIN_TOKEN,
    maxUploadBytes: c.DVX_MAX_UPLOAD_BYTES,
    lfsMaxObjectBytes: c.DVX_LFS_MAX_OBJECT_BYTES ?? c.DVX_MAX_UPLOAD_BYTES,
    logLevel: c.DVX_LOG_LEVEL,
    gcGraceMs: c.DVX_GC_GRACE,
    metricsToken: c.DVX_METRICS_TOKEN,
    verifyReads: c.DVX_VERIFY_READS,
  };
}
