// Build: assemble the chunker's WebAssembly from its text source, then compile
// TypeScript to dist/. The .wasm is written next to its .wat as well so that
// sources run directly under tsx (tests, benchmarks) find it.
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
// --out DIR builds somewhere else than dist/ (the benchmarks build a private copy).
const outArg = process.argv.indexOf('--out');
const dist = outArg > 0 ? process.argv[outArg + 1] : join(root, 'dist');
const require = createRequire(import.meta.url);

async function buildWasm() {
  const wabt = await require('wabt')();
  for (const rel of ['core/fastcdc.wat']) {
    const src = join(root, rel);
    const mod = wabt.parseWat(rel, readFileSync(src, 'utf8'), { threads: true, bulk_memory: true });
    mod.validate({ threads: true, bulk_memory: true });
    const { buffer } = mod.toBinary({});
    mod.destroy();
    const out = src.replace(/\.wat$/, '.wasm');
    writeFileSync(out, buffer);
    mkdirSync(dirname(join(dist, rel)), { recursive: true });
    copyFileSync(out, join(dist, rel.replace(/\.wat$/, '.wasm')));
  }
}

function compileTs() {
  rmSync(dist, { recursive: true, force: true });
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  execFileSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json'), '--outDir', dist], { stdio: 'inherit' });
}

/**
 * The dvx CLI as a bundle: git hooks start dvx on every commit and checkout, and
 * resolving and compiling hundreds of module files (zod alone is ~0.15 s) would
 * double its start-up. Commands stay lazy chunks; the hash worker is an entry
 * of its own (a Worker loads a file); better-sqlite3 is native, so it stays a
 * package.
 */
const pakoViaZlib = {
  name: 'pako-via-zlib',
  setup(build) {
    build.onResolve({ filter: /^pako$/ }, (args) => (/[\\/]isomorphic-git[\\/]/.test(args.importer) ? { path: join(root, 'scripts', 'pako-zlib.mjs') } : undefined));
  },
};

async function bundleCli() {
  const esbuild = await import('esbuild');
  const out = join(dist, 'dvx');
  await esbuild.build({
    entryPoints: { dvx: join(root, 'cli', 'bin.ts'), 'hash-worker': join(root, 'core', 'hash-worker.ts') },
    outdir: out,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    external: ['better-sqlite3'],
    plugins: [pakoViaZlib],
    sourcemap: true,
    logLevel: 'warning',
    // Bundled CommonJS packages call require() for Node builtins.
    banner: { js: "import { createRequire as __dvxRequire } from 'node:module'; const require = __dvxRequire(import.meta.url);" },
  });
  copyFileSync(join(root, 'core', 'fastcdc.wasm'), join(out, 'fastcdc.wasm'));
  chmodSync(join(out, 'dvx.js'), 0o755);
}

/**
 * The web UI (web/): one script bundle and one stylesheet (uPlot's CSS
 * included), content-hashed so that the server can cache them for a year, and
 * index.html written with their names. Everything the page loads comes from
 * the server itself (no CDN), so the UI works offline.
 */
async function bundleWeb() {
  const esbuild = await import('esbuild');
  const out = join(dist, 'web');
  const assets = join(out, 'assets');
  const result = await esbuild.build({
    entryPoints: { app: join(root, 'web', 'src', 'main.ts'), styles: join(root, 'web', 'styles.css') },
    outdir: assets,
    entryNames: '[name]-[hash]',
    bundle: true,
    minify: true,
    sourcemap: true,
    format: 'esm',
    platform: 'browser',
    target: ['chrome110', 'firefox110', 'safari16'],
    metafile: true,
    logLevel: 'warning',
  });
  const built = Object.entries(result.metafile.outputs).filter(([, o]) => o.entryPoint);
  const nameOf = (entry) => {
    const hit = built.find(([, o]) => o.entryPoint.endsWith(entry));
    if (!hit) throw new Error(`web build: no output for ${entry}`);
    return hit[0].slice(hit[0].lastIndexOf('/') + 1);
  };
  const html = readFileSync(join(root, 'web', 'index.html'), 'utf8')
    .replace('{{script}}', `/assets/${nameOf('main.ts')}`)
    .replace('{{styles}}', `/assets/${nameOf('styles.css')}`);
  writeFileSync(join(out, 'index.html'), html);
  copyFileSync(join(root, 'web', 'favicon.svg'), join(assets, 'favicon.svg'));
}

function copyAssets() {
  for (const bin of ['server/bin.js']) {
    if (existsSync(join(dist, bin))) chmodSync(join(dist, bin), 0o755);
  }
}

compileTs();
await buildWasm();
await bundleCli();
await bundleWeb();
copyAssets();
