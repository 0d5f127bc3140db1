import { FleetError } from '../errors';

/** Faults that can be injected into a node (`talos-fleet sim fault NODE FAULT`, or `SimulatedFleet.fault()`). */
export const FAULTS = ['down', 'up', 'upgrade-fails-to-boot', 'upgrade-hangs', 'installer-fails', 'etcd-unhealthy', 'etcd-healthy', 'slow-reboot', 'clear'] as const;
/** One of {@link FAULTS}. */
export type FaultName = (typeof FAULTS)[number];

/**
 * Points of a boot, reboot or upgrade where `down@POINT` cuts the power, in the order a node passes them:
 * `boot` (power on, before the boot delay), `listen` (the API server is starting), `etcd-start` (the etcd member
 * is starting), `kubelet` (running, kubelet not ready yet), `reboot` (reboot requested, services still up),
 * `reboot-stop` (services stopping for the reboot), and the upgrade's `drain`, `upgrade-stop` (services stopping)
 * and `install` (the installer writing the new image).
 */
export const POWER_CUT_POINTS = ['boot', 'listen', 'etcd-start', 'kubelet', 'reboot', 'reboot-stop', 'drain', 'upgrade-stop', 'install'] as const;
/** One of {@link POWER_CUT_POINTS}. */
export type PowerCutPoint = (typeof POWER_CUT_POINTS)[number];

/** Faults a node carries until they fire or are cleared. */
export interface NodeFaults {
  /** The next upgrade's new image fails to boot; the node rolls back to the old one by itself. */
  upgradeFailsToBoot: boolean;
  /** The next upgrade never comes back: the node goes dark during the install. */
  upgradeHangs: boolean;
  /** The next LifecycleService.Upgrade's installer fails (1.13+): it exits non-zero and the node keeps its version. */
  installerFails: boolean;
  /** Reboots take this many times longer. */
  slowRebootFactor: number;
  /** The power is cut the next time the node reaches this point (`down@POINT`). */
  powerCutAt?: PowerCutPoint;
}

/** A parsed fault: `down`, `down@install`, `slow-reboot=5`. */
export interface FaultSpec {
  name: FaultName;
  /** `slow-reboot=FACTOR` */
  factor?: number;
  /** `down@POINT` */
  at?: PowerCutPoint;
}

/** Parses `FAULT`, `slow-reboot=FACTOR` or `down@POINT`, refusing anything else with the valid forms. */
export function parseFault(text: string): FaultSpec {
  const m = /^([a-z-]+)(?:=([^@]*)|@(.*))?$/.exec(text.trim());
  const name = m?.[1];
  if (!m || !(FAULTS as readonly string[]).includes(name!)) {
    throw new FleetError('invalid_fault', `unknown fault "${text}"; faults: ${FAULTS.join(', ')} (slow-reboot=FACTOR, down@POINT)`);
  }
  const [, , value, point] = m;
  if (value !== undefined) {
    if (name !== 'slow-reboot') throw new FleetError('invalid_fault', `fault ${name} takes no value; only slow-reboot=FACTOR does`);
    if (!(Number(value) > 0)) throw new FleetError('invalid_fault', `fault value "${value}" must be a positive number (slow-reboot=10)`);
    return { name, factor: Number(value) };
  }
  if (point !== undefined) {
    if (name !== 'down') throw new FleetError('invalid_fault', `fault ${name} takes no @POINT; only down@POINT does`);
    if (!(POWER_CUT_POINTS as readonly string[]).includes(point)) {
      throw new FleetError('invalid_fault', `unknown power cut point "${point}"; points: ${POWER_CUT_POINTS.join(', ')}`);
    }
    return { name, at: point as PowerCutPoint };
  }
  return { name: name as FaultName };
}
