// Times generateSecretsBundle (the whole `gen secrets`: four CAs and the RSA-4096 service-account key)
// and prints the median of several runs. Run: node -r ts-node/register/transpile-only bench/gen-secrets.ts [runs]
import { cpus } from 'node:os';
import { performance } from 'node:perf_hooks';
import { generateSecretsBundle } from '../src/config/secrets';

async function main(): Promise<void> {
  const runs = Number(process.argv[2] ?? 15);
  await generateSecretsBundle(); // warm-up: module loading and WebCrypto initialisation are not part of the figure
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    await generateSecretsBundle({ versionContract: 'v1.10' });
    times.push(performance.now() - start);
  }
  times.sort((a, b) => a - b);
  const at = (i: number): number => {
    const t = times[i];
    if (t === undefined) throw new Error(`no timing at index ${i}: ${times.length} runs recorded (runs = "${process.argv[2] ?? 15}")`);
    return t;
  };
  const pct = (p: number): number => at(Math.min(times.length - 1, Math.floor(p * times.length)));
  console.log(`generateSecretsBundle (v1.10 contract, RSA-4096 service-account key), ${runs} runs on ${cpus().length} × ${cpus()[0]?.model ?? 'CPU'}, Node ${process.version}`);
  console.log(`median ${pct(0.5).toFixed(0)} ms   min ${at(0).toFixed(0)} ms   p90 ${pct(0.9).toFixed(0)} ms   max ${at(times.length - 1).toFixed(0)} ms`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
