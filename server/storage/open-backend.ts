import type { Config } from '../config.ts';
import type { StorageBackend } from './backend.ts';
import { FsBackend } from './fs-backend.ts';

/**
 * The backend the configuration names. The Azure SDK is loaded only when used:
 * it costs ~35 MB of memory that an fs server does not need.
 */
export async function openBackend(config: Config): Promise<StorageBackend> {
  if (config.storage === 'azure') {
    const { AzureBackend } = await import('./azure-backend.ts');
    return new AzureBackend(config.azure);
  }
  return new FsBackend(config.dataDir);
}
