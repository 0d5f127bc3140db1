import { one, type Impl } from './types';
import { Code, GrpcError } from '../grpc/server';
import { SimulatedNode } from '../node';
import { checkDocumentKinds } from './apply-modes';
import { buildInfo } from '../versions';
import { parseConfigDocuments } from '../../config/patches';

type ApplyRequest = { data: Buffer; mode: string; dryRun: boolean };

/** A config without a v1alpha1 document: 1.13+ accepts it in maintenance and keeps waiting for the rest. */
function hasV1alpha1(yaml: string): boolean {
  return parseConfigDocuments(yaml, 'machine config').some((d) => d.version === 'v1alpha1' || (d.kind === undefined && d.apiVersion === undefined));
}

/**
 * Talos 1.13+ maintenance mode, where apid itself serves (talos-lines.md §2.2): every caller is os:reader and the
 * normal rule table applies, so these two methods differ from a configured node's: Version answers without
 * `features`, and ApplyConfiguration turns REBOOT and AUTO into NO_REBOOT (the install still runs once the config is
 * complete), accepts a partial config, and STAGED only keeps the config.
 */
export const apidMaintenanceHandlers: Record<string, Impl> = {
  '/machine.MachineService/Version': {
    unary: async (_req, { node }) =>
      one({ version: { tag: node.version, ...buildInfo(node.version), built: '', os: 'linux', arch: 'amd64' }, platform: { name: 'metal', mode: 'metal' } }),
  },
  '/machine.MachineService/ApplyConfiguration': {
    details: (req: ApplyRequest) => ({ mode: req.mode, dryRun: req.dryRun, bytes: req.data.length, maintenance: true }),
    unary: async (req: ApplyRequest, { node }) => {
      const profile = node.profile.maintenance;
      if (typeof req.mode !== 'string' || !profile.applyModes.includes(req.mode as never)) throw new GrpcError(Code.INVALID_ARGUMENT, `invalid apply configuration mode: ${req.mode}`);
      const yaml = req.data.toString('utf8');
      checkDocumentKinds(yaml, node.profile);
      const complete = hasV1alpha1(yaml);
      if (complete) SimulatedNode.validateConfig(yaml, 'machine config');
      else if (!profile.acceptsPartialConfig) throw new GrpcError(Code.INVALID_ARGUMENT, 'no v1alpha1 document found in the machine configuration');
      node.assertIdle('ApplyConfiguration');
      const staged = req.mode === 'STAGED';
      const reply = staged
        ? { warnings: [], mode: 'STAGED', modeDetails: 'Staged configuration to be applied after the next reboot' }
        : { warnings: [], mode: 'NO_REBOOT', modeDetails: 'Applied configuration without a reboot' };
      if (req.dryRun) return one({ ...reply, modeDetails: `Dry run summary:\n${reply.modeDetails} (skipped in dry-run).\n` });
      // Until the config is complete (or when only staged), the node keeps waiting in maintenance mode.
      if (complete && !staged) node.installFromMaintenance(yaml);
      return one(reply);
    },
  },
};
