import type { Config } from '../config.ts';
import { AzureBackend } from './azure-backend.ts';
import type { StorageBackend } from './backend.ts';
import { FsBackend } from './fs-backend.ts';

/** The backend the configuration names. */
export function openBackend(config: Config): StorageBackend {
  if (config.storage === 'azure') return new AzureBackend(config.azure);
  return new FsBackend(config.dataDir);
}
