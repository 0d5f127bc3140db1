import { parseInstallerImage } from '../../releases/images';
import { profileFor } from '../../releases/profiles';
import { imageTag } from '../../releases/versions';
import { Code, GrpcError } from '../grpc/server';
import { checkContainerd, type ContainerdRef } from '../images';
import type { SimulatedNode } from '../node';
import type { SimClock } from '../timing';
import { installerPreflightProblem } from '../versions';
import type { Impl } from './types';

interface LifecycleRequest {
  containerd?: ContainerdRef | null;
  source?: { imageName: string } | null;
  destination?: { disk: string } | null;
}

/** Exit codes of the 1.14 installer's classes (talos-lines.md §1.1); the installer of an older minor exits 1 on any failure. */
const EXIT = { unsupported: 3, invalidInput: 2, install: 7 } as const;

/** Nodes running an install or upgrade: upstream holds a process-wide TryLock for it. */
const busy = new WeakSet<SimulatedNode>();

const progressLine = (line: string) => ({ progress: { message: `${line}\n` } });
const progressExit = (code: number) => ({ progress: { exitCode: code } });

/** The exit code a failing installer of `target` reports for a failure of `kind`. */
function exitCode(target: string | undefined, kind: keyof typeof EXIT): number {
  try {
    return target && profileFor(target).installer.exitCodes === 'classified' ? EXIT[kind] : 1;
  } catch {
    return 1;
  }
}

/** The checks upstream's handler makes before it runs the installer, in its order (talos-lines.md §1.1). */
function preconditions(node: SimulatedNode, req: LifecycleRequest, install: boolean): { image: string; containerd: ContainerdRef } {
  if (busy.has(node)) throw new GrpcError(Code.FAILED_PRECONDITION, 'another installation/upgrade is already in progress');
  if (install && node.installed) throw new GrpcError(Code.ALREADY_EXISTS, 'machine is already installed');
  if (!install && !node.installed) throw new GrpcError(Code.FAILED_PRECONDITION, 'machine is not installed');
  const image = req.source?.imageName ?? '';
  if (!image) throw new GrpcError(Code.INVALID_ARGUMENT, 'installer image name is required');
  if (install && !req.destination?.disk) throw new GrpcError(Code.INVALID_ARGUMENT, 'installation destination disk is required');
  const containerd = req.containerd ?? { driver: 'CONTAINERD', namespace: 'NS_UNKNOWN' };
  checkContainerd(containerd);
  if (!node.images.has(containerd, image)) throw new GrpcError(Code.INTERNAL, `failed to get installer image "${image}": image "${image}" not found in containerd store`);
  if (!parseInstallerImage(image)) {
    throw new GrpcError(Code.INTERNAL, `failed to run the installer from "${image}": exec: "/bin/installer": stat /bin/installer: no such file or directory`);
  }
  return { image, containerd };
}

/**
 * LifecycleService (Talos 1.13+): Install and Upgrade run the installer and stream its output, ending with its exit
 * code, which is non-zero on failure while the stream still ends OK. The node keeps running: no reboot, no stage
 * change, no events, no etcd check. A successful upgrade writes the other boot slot, which the next boot uses.
 */
export function lifecycleHandlers(clock: SimClock): Record<string, Impl> {
  const run = (install: boolean): Impl => ({
    details: (req: LifecycleRequest) => ({ image: req.source?.imageName ?? '', containerd: req.containerd ?? null, ...(install ? { disk: req.destination?.disk ?? '' } : {}) }),
    stream: async (req: LifecycleRequest, { node, ctx }, send) => {
      const { image } = preconditions(node, req, install);
      busy.add(node);
      try {
        const target = parseInstallerImage(image)!.version;
        await send(progressLine(`running installer from ${image}`));
        const problem = install ? undefined : installerPreflightProblem(node.version, target, imageTag(node.config?.parsed.machine.kubelet.image ?? ''));
        if (problem) {
          await send(progressLine(`error: ${problem}`));
          await send(progressExit(exitCode(target, problem.startsWith('host version') ? 'unsupported' : 'invalidInput')));
          return;
        }
        try {
          profileFor(target);
        } catch {
          await send(progressLine(`error: upgrades to version ${target.replace(/^v/, '')} are not supported`));
          await send(progressExit(1));
          return;
        }
        await send(progressLine(`installing Talos ${target} to the ${install ? 'system disk' : 'other boot slot'}`));
        await clock.sleep(clock.timings.upgradeInstallMs, 1, ctx.signal);
        node.assertRunning(install ? 'Install' : 'Upgrade');
        if (!install && node.faults.installerFails) {
          // The `installer-fails` fault: the install step fails; the other slot is not written, the node runs on.
          node.faults.installerFails = false;
          await send(progressLine('error: installing the bootloader to the other boot slot failed: input/output error'));
          await send(progressExit(exitCode(target, 'install')));
          return;
        }
        node.writeBootSlot(target);
        await send(progressLine(`${install ? 'installation' : 'upgrade'} of Talos ${target} complete; reboot to use it`));
        await send(progressExit(0));
      } finally {
        busy.delete(node);
      }
    },
  });
  return { Install: run(true), Upgrade: run(false) };
}
