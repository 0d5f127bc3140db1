import * as grpc from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { join } from 'node:path';

type Callback<T> = (err: grpc.ServiceError | null, value?: T) => void;
/** A client of one etcd service: its unary methods by name. */
export type EtcdServiceClient = grpc.Client & Record<string, (req: unknown, options: grpc.CallOptions, cb: Callback<unknown>) => void>;
type EtcdServiceConstructor = new (address: string, creds: grpc.ChannelCredentials, options?: grpc.ChannelOptions) => EtcdServiceClient;

/**
 * etcd's own v3 API (`rpc.proto` here: a different API from Talos's, kept apart), loaded once. uint64 and int64
 * fields are decimal strings, names as etcd spells them.
 */
export const etcdServices = (
  grpc.loadPackageDefinition(loadSync(join(__dirname, 'rpc.proto'), { keepCase: true, longs: String, enums: String, defaults: true })) as unknown as {
    etcdserverpb: Record<'KV' | 'Cluster' | 'Maintenance', EtcdServiceConstructor>;
  }
).etcdserverpb;

/** One unary call to an etcd service, with a deadline. */
export function etcdCall<T>(client: EtcdServiceClient, method: string, request: unknown, timeoutMs: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    client[method]!.call(client, request, { deadline: Date.now() + timeoutMs }, (err, value) => (err ? reject(err) : resolve(value as T)));
  });
}
