// Why the simulator's gRPC server is Node's http2 and not grpc-js's server: both serve the same stream of 1 KiB
// messages (256 MiB, TLS) to a grpc-js client in another process, which prints MB/s. A benchmark, not a test.
//
//   node -r ts-node/register/transpile-only bench/server-write.ts [grpc-js|http2] [--runs 3]
import * as grpc from '@grpc/grpc-js';
import { fork } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { generateCertificateAuthority, issueCertificate } from '../src/config/certs';
import { toNodePem } from '../src/config/pem';
import { GrpcServer } from '../src/simulator/grpc/server';
import { encodedDataChunks } from '../src/talos/codec';
import { FLOW_CONTROL_WINDOW_BYTES } from '../src/talos/connection';

const ADDRESS = '127.0.206.1';
const PORT = 50000;
const TOTAL = 256 * 1024 * 1024;
const PATH = '/machine.MachineService/EtcdSnapshot';
const identity = (b: Buffer): Buffer => b;

async function serve(kind: string, key: string, cert: string): Promise<() => Promise<void>> {
  const chunk = Buffer.alloc(32 * 1024, 7);
  if (kind === 'grpc-js') {
    const server = new grpc.Server();
    const message = Buffer.concat(encodedDataChunks(chunk.subarray(0, 1024), 1024).messages[0]!);
    server.addService({ S: { path: PATH, requestStream: false, responseStream: true, requestSerialize: identity, requestDeserialize: identity, responseSerialize: identity, responseDeserialize: identity } }, {
      S: (call: grpc.ServerWritableStream<Buffer, Buffer>) => {
        let sent = 0;
        const pump = () => {
          while (sent < TOTAL) {
            sent += 1024;
            if (!call.write(message)) return void call.once('drain', pump);
          }
          call.end();
        };
        pump();
      },
    });
    await new Promise<void>((resolve, reject) => server.bindAsync(`${ADDRESS}:${PORT}`, grpc.ServerCredentials.createSsl(null, [{ private_key: Buffer.from(toNodePem(key)), cert_chain: Buffer.from(cert) }], false), (e) => (e ? reject(e) : resolve())));
    return () => new Promise((resolve) => server.tryShutdown(() => resolve()));
  }
  const server = new GrpcServer({ key, cert }, () => ({
    kind: 'server-stream',
    handle: async (_request, _ctx, out) => {
      for (let sent = 0; sent < TOTAL; sent += chunk.length) await out.writeMany(encodedDataChunks(chunk, 1024).messages);
    },
  }));
  await server.listen(ADDRESS, PORT);
  return () => server.close();
}

async function client(ca: string): Promise<void> {
  const c = new grpc.Client(`${ADDRESS}:${PORT}`, grpc.credentials.createSsl(Buffer.from(ca)), { 'grpc-node.flow_control_window': FLOW_CONTROL_WINDOW_BYTES });
  let bytes = 0;
  const started = performance.now();
  const call = c.makeServerStreamRequest(PATH, identity, identity, Buffer.alloc(0));
  for await (const m of call as AsyncIterable<Buffer>) bytes += m.length;
  process.send!({ mbps: bytes / 1e6 / ((performance.now() - started) / 1000) });
  c.close();
}

async function main(): Promise<void> {
  if (process.argv[2] === '--client') return client(process.argv[3]!);
  const kind = process.argv[2] ?? 'http2';
  const runs = Number(process.argv[process.argv.indexOf('--runs') + 1] ?? 3) || 3;
  const ca = await generateCertificateAuthority({ algorithm: 'ed25519', organization: 'talos', ttlMs: 3_600_000 });
  const leaf = await issueCertificate(ca, { ipAddresses: [ADDRESS], usage: 'server', ttlMs: 3_600_000 });
  const stop = await serve(kind, leaf.key, leaf.crt);
  try {
    for (let i = 0; i < runs; i++) {
      const child = fork(__filename, ['--client', ca.crt], { execArgv: ['-r', 'ts-node/register/transpile-only'] });
      const { mbps } = await new Promise<{ mbps: number }>((resolve) => child.once('message', (m) => resolve(m as { mbps: number })));
      await new Promise((resolve) => child.once('exit', resolve));
      process.stdout.write(`${kind}: ${mbps.toFixed(0)} MB/s (256 MiB in 1 KiB messages, TLS)\n`);
    }
  } finally {
    await stop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
