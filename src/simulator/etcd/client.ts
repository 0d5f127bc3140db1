import * as grpc from '@grpc/grpc-js';
import type { Readable } from 'node:stream';
import { etcdCall, etcdServices, type EtcdServiceClient } from '../../etcd/services';
import { FLOW_CONTROL_WINDOW_BYTES } from '../../talos/connection';

/** An etcd member as the etcd cluster API reports it (IDs as decimal strings: they are uint64). */
export interface EtcdMemberInfo {
  ID: string;
  name: string;
  peerURLs: string[];
  clientURLs: string[];
  isLearner: boolean;
}

export interface EtcdStatusInfo {
  header: { cluster_id: string; member_id: string; revision: string; raft_term: string };
  version: string;
  dbSize: string;
  leader: string;
  raftIndex: string;
  raftTerm: string;
  raftAppliedIndex: string;
  errors: string[];
  dbSizeInUse: string;
  isLearner: boolean;
}

export interface EtcdAlarmInfo {
  memberID: string;
  alarm: 'NONE' | 'NOSPACE' | 'CORRUPT';
}


/** A small etcd v3 client for one member, used by simulated control planes to manage their real etcd. */
export class EtcdClient {
  private readonly kv: EtcdServiceClient;
  private readonly cluster: EtcdServiceClient;
  private readonly maintenance: EtcdServiceClient;

  constructor(
    /** `http://127.0.0.11:2379` */
    readonly clientUrl: string,
    private readonly timeoutMs = 5_000,
  ) {
    const address = clientUrl.replace(/^https?:\/\//, '');
    const creds = grpc.credentials.createInsecure();
    // A large receive window lets etcd stream a snapshot without waiting for window updates every 64 KiB.
    const options: grpc.ChannelOptions = { 'grpc.max_reconnect_backoff_ms': 1000, 'grpc.initial_reconnect_backoff_ms': 100, 'grpc-node.flow_control_window': FLOW_CONTROL_WINDOW_BYTES };
    this.kv = new etcdServices.KV(address, creds, options);
    this.cluster = new etcdServices.Cluster(address, creds, options);
    this.maintenance = new etcdServices.Maintenance(address, creds, options);
  }

  close(): void {
    for (const c of [this.kv, this.cluster, this.maintenance]) c.close();
  }

  private call<T>(client: EtcdServiceClient, method: string, request: unknown, timeoutMs = this.timeoutMs): Promise<T> {
    return etcdCall<T>(client, method, request, timeoutMs);
  }

  async memberList(): Promise<EtcdMemberInfo[]> {
    return (await this.call<{ members: EtcdMemberInfo[] }>(this.cluster, 'MemberList', {})).members;
  }

  /** Adds a member as a learner; returns it and the member list to start it with. */
  memberAddAsLearner(peerUrl: string): Promise<{ member: EtcdMemberInfo; members: EtcdMemberInfo[] }> {
    return this.call(this.cluster, 'MemberAdd', { peerURLs: [peerUrl], isLearner: true });
  }

  memberPromote(id: string): Promise<unknown> {
    return this.call(this.cluster, 'MemberPromote', { ID: id });
  }

  memberRemove(id: string): Promise<unknown> {
    return this.call(this.cluster, 'MemberRemove', { ID: id });
  }

  status(timeoutMs?: number): Promise<EtcdStatusInfo> {
    return this.call(this.maintenance, 'Status', {}, timeoutMs);
  }

  async alarms(): Promise<EtcdAlarmInfo[]> {
    return (await this.call<{ alarms: EtcdAlarmInfo[] }>(this.maintenance, 'Alarm', { action: 'GET', memberID: '0', alarm: 'NONE' })).alarms;
  }

  async disarm(alarm: EtcdAlarmInfo): Promise<EtcdAlarmInfo[]> {
    return (await this.call<{ alarms: EtcdAlarmInfo[] }>(this.maintenance, 'Alarm', { action: 'DEACTIVATE', ...alarm })).alarms;
  }

  defragment(): Promise<unknown> {
    return this.call(this.maintenance, 'Defragment', {}, 60_000);
  }

  moveLeader(targetId: string): Promise<unknown> {
    return this.call(this.maintenance, 'MoveLeader', { targetID: targetId });
  }

  /** A linearizable read: succeeds only when this member can reach a quorum (etcd's own health probe). */
  async quorumRead(timeoutMs: number): Promise<void> {
    await this.call(this.kv, 'Range', { key: Buffer.from('health'), serializable: false, count_only: true }, timeoutMs);
  }

  /** The value of a key (a linearizable read), or undefined when it is absent. */
  async get(key: string): Promise<Buffer | undefined> {
    const res = await this.call<{ kvs: { value: Buffer }[] }>(this.kv, 'Range', { key: Buffer.from(key) });
    return res.kvs[0]?.value;
  }

  put(key: string | Buffer, value: Buffer): Promise<unknown> {
    return this.call(this.kv, 'Put', { key: Buffer.from(key), value }, 30_000);
  }

  /** Streams a consistent snapshot of this member's database (bbolt file + SHA-256 trailer) in etcd's own chunks. */
  snapshot(): Readable & AsyncIterable<{ blob: Buffer; remaining_bytes: string }> {
    const maintenance = this.maintenance as unknown as { Snapshot(req: unknown): Readable & AsyncIterable<{ blob: Buffer; remaining_bytes: string }> };
    return maintenance.Snapshot({});
  }
}
