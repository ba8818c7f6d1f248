import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { verdict, type BenchResult, type Ctx } from '../lib/bench.ts';
import { rmrf } from '../lib/fsutil.ts';
import { run } from '../lib/proc.ts';
import { REPO_ROOT } from '../lib/tools.ts';

/**
 * B11 "server-get": dvx-server serving a large file (bench/server-get.ts, run
 * against the snapshot's server): GET from the fs backend over loopback
 * (>= 500 MB/s), GET from Azurite through the server vs a direct
 * @azure/storage-blob download of the same packs (>= 0.8x), and the server's
 * peak RSS while 8 clients stream the file at once (< 300 MB).
 */
export async function serverGetBench(ctx: Ctx): Promise<BenchResult> {
  const out = join(ctx.work, 'b11.json');
  rmrf(out);
  const size = ctx.quick ? '256MiB' : '1GiB';
  const serverBin = join(dirname(dirname(ctx.tools.dvxBin)), 'server', 'bin.js');
  const r = await run([process.execPath, '--import', 'tsx', join(REPO_ROOT, 'bench', 'server-get.ts'), '--size', size, '--bin', serverBin, '--json', out], { cwd: REPO_ROOT, timeoutS: 1800 });
  for (const l of r.stdout.split('\n')) if (l.trim()) ctx.log(`  ${l}`);
  const { figures: f, lines } = JSON.parse(readFileSync(out, 'utf8')) as { figures: Record<string, number>; lines: string[] };
  const fsPass = f.fsMBps === undefined ? null : f.fsMBps >= 500;
  const azPass = f.azureRatio === undefined ? null : f.azureRatio >= 0.8;
  const rssPass = f.rssMiB === undefined ? null : f.rssMiB * 1.048576 < 300;
  const pass = [fsPass, azPass, rssPass].includes(null) ? null : Boolean(fsPass && azPass && rssPass);
  const md = [
    `Input: ${size} of random bytes uploaded once per backend through \`POST /uploads\`; GETs with curl over loopback (\`node --import tsx bench/server-get.ts --size ${size}\`). Azurite runs from a temp folder in the same VM.`,
    '',
    ...lines.map((l) => `- ${l}`),
    '',
    `Target: fs GET >= 500 MB/s. Measured: ${f.fsMBps?.toFixed(0)} MB/s. ${verdict(fsPass)}`,
    '',
    `Target: Azurite GET through dvx-server >= 0.8x a direct SDK download. Measured: ${f.azureRatio?.toFixed(2)}x. ${verdict(azPass)}`,
    '',
    `Target: server RSS < 300 MB with 8 clients streaming. Measured: ${f.rssMiB ? (f.rssMiB * 1.048576).toFixed(0) : '?'} MB (${f.rssMiB?.toFixed(0)} MiB). ${verdict(rssPass)}`,
  ].join('\n');
  return {
    name: 'server-get',
    title: `B11 server-get: serving a ${size} file`,
    target: 'fs GET >= 500 MB/s; Azurite >= 0.8x direct SDK; RSS < 300 MB with 8 clients',
    pass,
    measured: `fs ${f.fsMBps?.toFixed(0)} MB/s; Azurite ${f.azureRatio?.toFixed(2)}x; RSS ${f.rssMiB?.toFixed(0)} MiB`,
    markdown: md,
    errors: [],
    data: f,
  };
}
