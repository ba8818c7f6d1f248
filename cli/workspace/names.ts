/**
 * Names of dvx's files in a workspace, in a module of their own so that the
 * git hooks can check for them without loading the workspace code (its config
 * parser and SQLite), which every commit would otherwise pay for.
 */
export const DVX_DIR = '.dvx';
export const CONFIG_FILE = 'config.yaml';
export const LOCAL_CONFIG_FILE = 'config.local.yaml';
/** the pipeline file at the workspace root (cli/runner/pipeline-file.ts) */
export const PIPELINE_FILE = 'dvx.yaml';
