import { config } from 'zod/mini';
import en from 'zod/v4/locales/en.js';

/**
 * The schema library for code the CLI loads: zod's "mini" build. The classic
 * build is a 755 KB bundle whose loading and set-up cost every `dvx` start,
 * and so every git hook, ~50 ms; mini is ~35 KB with the same validation.
 * Import it as a namespace (`import * as z from './zod.ts'`) and use members
 * only, so that the bundler keeps just what is used. Mini ships without
 * messages, so English ones are installed here, once, before any schema is
 * used (the server's classic zod shares this setting).
 */
config(en());

export * from 'zod/mini';
