import { installerPublished, parseInstallerImage } from '../releases/images';
import { Code, GrpcError } from './grpc/server';
import type { SimulatedNode } from './node';

/**
 * Refusals that depend on the node's Talos minor, read from its version profile, for the sequences in node.ts. Each
 * returns the error the real node answers with, or undefined when the call may go on.
 */

/** The phases of the 1.14 unattended install (UnattendedInstallStatus). */
export type UnattendedPhase = 'PENDING' | 'INSTALLING' | 'INSTALLED' | 'WAITING_FOR_REBOOT' | 'FAILED';

/** Bootstrap on a worker: `Unimplemented` from 1.13; and, on 1.14, not before the unattended install is done. */
export function bootstrapRefusal(node: SimulatedNode): GrpcError | undefined {
  if (node.role !== 'controlplane' && node.profile.health.workerRefusal === 'unimplemented') {
    return new GrpcError(Code.UNIMPLEMENTED, 'bootstrap is only available on control plane nodes');
  }
  if (node.unattended && node.unattended.phase !== 'INSTALLED') return new GrpcError(Code.FAILED_PRECONDITION, 'bootstrap is not available yet');
  return undefined;
}

/** HealthCheck on a worker: `Unimplemented` from 1.13 (earlier minors run it on any node). */
export function healthCheckRefusal(node: SimulatedNode): GrpcError | undefined {
  if (node.role !== 'controlplane' && node.profile.health.workerRefusal === 'unimplemented') {
    return new GrpcError(Code.UNIMPLEMENTED, 'cluster health check is only available on control plane nodes');
  }
  return undefined;
}

/**
 * The legacy `MachineService.Upgrade` before it replies: 1.13+ refuses a node that is not installed; every minor
 * pulls and validates the installer image first ("error validating installer image", status Unknown).
 */
export function legacyUpgradeRefusal(node: SimulatedNode, image: string): GrpcError | undefined {
  if (!node.installed && node.profile.legacyUpgrade.refusesUninstalled) return new GrpcError(Code.FAILED_PRECONDITION, 'Talos is not installed');
  if (!/:[^/]+$/.test(image.split('@')[0]!)) return undefined;
  const installer = parseInstallerImage(image);
  if (!installer) {
    return new GrpcError(Code.UNKNOWN, `error validating installer image "${image}": not a Talos installer image (expected <registry>/siderolabs/installer:vX.Y.Z or <factory>/<platform>-installer/<schematic>:vX.Y.Z)`);
  }
  let published = true;
  try {
    published = installerPublished(installer);
  } catch {
    // A version no profile knows: the installer's own pre-flight refuses it later.
  }
  if (!published) return new GrpcError(Code.UNKNOWN, `error validating installer image "${image}": failed to pull image "${image}": not found`);
  return undefined;
}

/** Whether the legacy Upgrade skips the etcd mutex and checks: `force`, and on 1.14 also `preserve`. */
export function skipsEtcdChecks(node: SimulatedNode, force: boolean, preserve: boolean): boolean {
  return force || (preserve && node.profile.legacyUpgrade.preserveSkipsEtcdChecks);
}
