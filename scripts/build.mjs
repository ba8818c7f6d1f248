// Build: assemble the chunker's WebAssembly from its text source, then compile
// TypeScript to dist/. The .wasm is written next to its .wat as well so that
// sources run directly under tsx (tests, benchmarks) find it.
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, cpSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);

async function buildWasm() {
  const wabt = await require('wabt')();
  for (const rel of ['core/fastcdc.wat']) {
    const src = join(root, rel);
    const mod = wabt.parseWat(rel, readFileSync(src, 'utf8'), { threads: true });
    mod.validate({ threads: true });
    const { buffer } = mod.toBinary({});
    mod.destroy();
    const out = src.replace(/\.wat$/, '.wasm');
    writeFileSync(out, buffer);
    mkdirSync(dirname(join(root, 'dist', rel)), { recursive: true });
    copyFileSync(out, join(root, 'dist', rel.replace(/\.wat$/, '.wasm')));
  }
}

function compileTs() {
  rmSync(join(root, 'dist'), { recursive: true, force: true });
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  execFileSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json')], { stdio: 'inherit' });
}

function copyAssets() {
  // Static files that ship beside compiled code (the web UI's HTML/CSS, vendored at build).
  const web = join(root, 'server', 'web', 'static');
  if (existsSync(web)) cpSync(web, join(root, 'dist', 'server', 'web', 'static'), { recursive: true });
  for (const bin of ['dist/cli/bin.js', 'dist/server/bin.js']) {
    if (existsSync(join(root, bin))) chmodSync(join(root, bin), 0o755);
  }
}

compileTs();
await buildWasm();
copyAssets();
if (process.argv.includes('--verbose')) console.log(readdirSync(join(root, 'dist')));
