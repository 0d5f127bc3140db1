import type { ApplyModeName, VersionProfile } from '../../releases/profiles';
import { parseConfigDocuments } from '../../config/patches';
import { ValidationError } from '../../errors';
import { Code, GrpcError } from '../grpc/server';

const MODES: readonly string[] = ['REBOOT', 'AUTO', 'NO_REBOOT', 'STAGED', 'TRY'];

/**
 * The mode an ApplyConfiguration on a configured node runs in, by the node's apply-mode rules (talos-lines.md §3.3):
 * 1.14 refuses REBOOT (also an unset mode) and never reboots for AUTO; older minors reboot for AUTO when the change
 * needs it and refuse NO_REBOOT/TRY for such a change.
 */
export function resolveApplyMode(profile: VersionProfile, requested: string | number, needsReboot: boolean): ApplyModeName {
  if (typeof requested !== 'string' || !MODES.includes(requested)) throw new GrpcError(Code.INVALID_ARGUMENT, `invalid apply configuration mode: ${requested}`);
  const rules = profile.applyModes;
  if (requested === 'REBOOT' && rules.reboot === 'unimplemented') {
    throw new GrpcError(Code.UNIMPLEMENTED, 'the REBOOT mode is not supported, please use AUTO or NO_REBOOT modes instead');
  }
  if (requested === 'AUTO') return rules.auto === 'never-reboots' || !needsReboot ? 'NO_REBOOT' : 'REBOOT';
  if ((requested === 'NO_REBOOT' || requested === 'TRY') && needsReboot && rules.noRebootNeedingReboot === 'invalid-argument') {
    throw new GrpcError(Code.INVALID_ARGUMENT, 'this config change can\'t be applied in immediate mode: it needs a reboot (use mode "auto", "reboot" or "staged")');
  }
  return requested as ApplyModeName;
}

/**
 * Refuses documents the node's Talos does not register, as its config decoder does (`"KubeletConfig" "v1alpha1": not
 * registered`): a config generated for a newer contract than the node runs.
 */
export function checkDocumentKinds(yaml: string, profile: VersionProfile): void {
  let docs;
  try {
    docs = parseConfigDocuments(yaml, 'machine config');
  } catch (err) {
    if (err instanceof ValidationError) throw new GrpcError(Code.INVALID_ARGUMENT, err.message);
    throw err;
  }
  for (const d of docs) {
    if (typeof d.kind !== 'string') continue;
    if (!profile.configKinds.includes(d.kind)) {
      throw new GrpcError(Code.INVALID_ARGUMENT, `failed to parse config: "${d.kind}" "${typeof d.apiVersion === 'string' ? d.apiVersion : ''}": not registered`);
    }
  }
}
