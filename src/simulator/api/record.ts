import { METHODS } from '../../talos/codec';
import { grpcCodeName } from '../../talos/errors';
import { Code, GrpcError } from '../grpc/server';

/**
 * Every method of the API subset, by whether it acts on the node. Mutating calls (the ones that change the node,
 * its etcd member or its services, or issue a credential) go into the node's call record, which tests use to
 * prove exactly-once effects; read-only ones do not. Each method is listed exactly once, which is checked when
 * this module loads, so a method added to the protos cannot be left out of the record by mistake.
 */
const MUTATING = [
  'ApplyConfiguration',
  'Bootstrap',
  'Upgrade',
  'Rollback',
  'Reboot',
  'Shutdown',
  'Reset',
  'ServiceStart',
  'ServiceStop',
  'ServiceRestart',
  'EtcdRecover',
  'EtcdLeaveCluster',
  'EtcdRemoveMemberByID',
  'EtcdForfeitLeadership',
  'EtcdAlarmDisarm',
  'EtcdDefragment',
  'GenerateClientConfiguration',
  'Kubeconfig',
  'ImagePull',
].map((m) => `/machine.MachineService/${m}`).concat([
  '/machine.ImageService/Pull',
  '/machine.ImageService/Remove',
  '/machine.LifecycleService/Install',
  '/machine.LifecycleService/Upgrade',
]);

const READ_ONLY = [
  ...['Version', 'Hostname', 'Memory', 'LoadAvg', 'ServiceList', 'Logs', 'Dmesg', 'Events', 'Read', 'EtcdSnapshot', 'EtcdMemberList', 'EtcdStatus', 'EtcdAlarmList'].map(
    (m) => `/machine.MachineService/${m}`,
  ),
  '/machine.ImageService/List',
  '/cluster.ClusterService/HealthCheck',
  '/cosi.resource.State/Get',
  '/cosi.resource.State/List',
];

const MUTATING_PATHS = new Set(MUTATING);
{
  const listed = [...MUTATING, ...READ_ONLY];
  const unlisted = [...METHODS.keys()].filter((p) => !listed.includes(p));
  const unknown = listed.filter((p) => !METHODS.has(p));
  const twice = listed.filter((p, i) => listed.indexOf(p) !== i);
  if (unlisted.length || unknown.length || twice.length) {
    throw new Error(`the call record's method table is out of step with the protos: unlisted ${unlisted.join(', ') || '-'}; unknown ${unknown.join(', ') || '-'}; listed twice ${twice.join(', ') || '-'}`);
  }
}

/** True for a method whose calls go into the call record. */
export function isMutating(path: string): boolean {
  return MUTATING_PATHS.has(path);
}

/** The outcome a failed call is recorded with: its gRPC status name (`Unavailable`, `PermissionDenied`, ...). */
export function outcomeOf(err: unknown): string {
  return grpcCodeName(err instanceof GrpcError ? err.grpcCode : Code.UNKNOWN);
}
