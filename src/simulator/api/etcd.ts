import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { encodedDataChunks } from '../../talos/codec';
import type { EtcdClient } from '../etcd/client';
import type { EtcdService } from '../etcd/service';
import { Code, GrpcError } from '../grpc/server';
import type { SimulatedNode } from '../node';
import { one, type Impl } from './types';

/** Upstream's snapshot chunker sends 1 KiB messages. */
export const SNAPSHOT_CHUNK_BYTES = 1024;

/** The node's etcd, or the error upstream returns on workers and on control planes whose etcd is down. */
function etcdOf(node: SimulatedNode, method: string): EtcdService {
  if (!node.etcd || node.role !== 'controlplane') throw new GrpcError(Code.UNIMPLEMENTED, `${method} is only available on control plane nodes`);
  if (node.etcd.state !== 'running') throw new GrpcError(Code.FAILED_PRECONDITION, `etcd is not running on this node (${node.etcd.state})`);
  return node.etcd;
}

/** Runs a call against the node's own member, mapping etcd failures to gRPC statuses. */
async function withEtcd<T>(node: SimulatedNode, method: string, run: (client: EtcdClient, etcd: EtcdService) => Promise<T>): Promise<T> {
  const etcd = etcdOf(node, method);
  const client = etcd.client(10_000);
  try {
    return await run(client, etcd);
  } catch (err) {
    if (err instanceof GrpcError) throw err;
    const e = err as { code?: number; details?: string; message?: string };
    throw new GrpcError(e.code === Code.DEADLINE_EXCEEDED ? Code.DEADLINE_EXCEEDED : Code.UNKNOWN, `etcd: ${e.details ?? e.message}`);
  } finally {
    client.close();
  }
}

/** The etcd methods of MachineService, against the node's real etcd member. */
export const etcdHandlers: Record<string, Impl> = {
  EtcdMemberList: {
    unary: async (_req, { node }) =>
      withEtcd(node, 'EtcdMemberList', async (client) => {
        const members = await client.memberList();
        return one({
          legacyMembers: members.map((m) => m.name),
          members: members.map((m) => ({ id: m.ID, hostname: m.name, peerUrls: m.peerURLs, clientUrls: m.clientURLs, isLearner: m.isLearner })),
        });
      }),
  },

  EtcdStatus: {
    unary: async (_req, { node }) =>
      withEtcd(node, 'EtcdStatus', async (client) => {
        const s = await client.status();
        return one({
          memberStatus: {
            memberId: s.header.member_id,
            protocolVersion: s.version,
            dbSize: s.dbSize,
            dbSizeInUse: s.dbSizeInUse,
            leader: s.leader,
            raftIndex: s.raftIndex,
            raftTerm: s.raftTerm,
            raftAppliedIndex: s.raftAppliedIndex,
            errors: s.errors,
            isLearner: s.isLearner,
          },
        });
      }),
  },

  EtcdAlarmList: {
    unary: async (_req, { node }) =>
      withEtcd(node, 'EtcdAlarmList', async (client) => one({ memberAlarms: (await client.alarms()).map((a) => ({ memberId: a.memberID, alarm: a.alarm })) })),
  },

  EtcdAlarmDisarm: {
    unary: async (_req, { node }) =>
      withEtcd(node, 'EtcdAlarmDisarm', async (client) => {
        const disarmed = [];
        for (const alarm of await client.alarms()) disarmed.push(...(await client.disarm(alarm)));
        return one({ memberAlarms: disarmed.map((a) => ({ memberId: a.memberID, alarm: a.alarm })) });
      }),
  },

  EtcdDefragment: {
    unary: async (_req, { node }) =>
      withEtcd(node, 'EtcdDefragment', async (client) => {
        await client.defragment();
        return one({});
      }),
  },

  EtcdForfeitLeadership: {
    unary: async (_req, { node }) =>
      withEtcd(node, 'EtcdForfeitLeadership', async (client) => {
        const status = await client.status();
        const members = await client.memberList();
        const self = status.header.member_id;
        if (status.leader !== self) return one({ member: members.find((m) => m.ID === status.leader)?.name ?? '' });
        const next = members.find((m) => m.ID !== self && !m.isLearner && m.name);
        if (!next) throw new GrpcError(Code.FAILED_PRECONDITION, 'cannot forfeit leadership: no other voting member can take it');
        await client.moveLeader(next.ID);
        return one({ member: next.name });
      }),
  },

  EtcdLeaveCluster: {
    unary: async (_req, { node }) => {
      const etcd = etcdOf(node, 'EtcdLeaveCluster');
      await etcd.leave().catch((err: Error) => Promise.reject(new GrpcError(Code.UNKNOWN, `failed to leave etcd cluster: ${err.message}`)));
      return one({});
    },
  },

  EtcdRemoveMemberByID: {
    details: (req: { memberId: string }) => ({ memberId: req.memberId }),
    unary: async (req: { memberId: string }, { node }) =>
      withEtcd(node, 'EtcdRemoveMemberByID', async (client) => {
        const members = await client.memberList();
        if (!members.some((m) => m.ID === req.memberId)) {
          throw new GrpcError(Code.NOT_FOUND, `member ${BigInt(req.memberId).toString(16)} not found`);
        }
        await client.memberRemove(req.memberId);
        return one({});
      }),
  },

  EtcdSnapshot: {
    stream: async (_req, { node, ctx }, send) => {
      const etcd = etcdOf(node, 'EtcdSnapshot');
      const client = etcd.client();
      const snapshot = client.snapshot();
      ctx.signal.addEventListener('abort', () => snapshot.destroy(), { once: true });
      try {
        // etcd sends 32 KiB at a time; each becomes 1 KiB messages written together.
        for await (const part of snapshot) await send(encodedDataChunks(part.blob, SNAPSHOT_CHUNK_BYTES));
      } catch (err) {
        if (ctx.signal.aborted) return;
        throw new GrpcError(Code.UNKNOWN, `failed reading etcd snapshot: ${(err as Error).message}`);
      } finally {
        client.close();
      }
    },
  },

  EtcdRecover: {
    clientStream: async (requests: AsyncIterable<{ bytes: Buffer }>, { node, record }) => {
      const path = node.recoveryPath();
      const partial = `${path}.part`;
      let bytes = 0;
      try {
        await pipeline(
          Readable.from(
            (async function* () {
              for await (const r of requests) {
                bytes += r.bytes.length;
                yield r.bytes;
              }
            })(),
          ),
          createWriteStream(partial, { mode: 0o600 }),
        );
      } catch (err) {
        await rm(partial, { force: true });
        throw err;
      }
      await rename(partial, path);
      // How much was uploaded is known only now; the entry was made on receipt.
      if (record) record.details.bytes = bytes;
      return one({});
    },
  },
};
