import { Code, GrpcError } from '../grpc/server';
import { SimulatedNode } from '../node';
import { cosiHandlers } from './cosi';
import { one, type Impl } from './types';
import { checkDocumentKinds } from './apply-modes';

/**
 * The maintenance API of an unconfigured node up to Talos 1.12 (1.13+: maintenance-apid.ts): every caller is os:reader; ApplyConfiguration (modes
 * reboot, auto, try) installs the node; COSI reads of non-sensitive resources work; the rest is Unimplemented.
 */
export const maintenanceHandlers: Record<string, Impl> = {
  '/machine.MachineService/ApplyConfiguration': {
    details: (req: { data: Buffer; mode: string; dryRun: boolean }) => ({ mode: req.mode, dryRun: req.dryRun, bytes: req.data.length, maintenance: true }),
    unary: async (req: { data: Buffer; mode: string; dryRun: boolean }, { node }) => {
      if (req.mode === 'NO_REBOOT' || req.mode === 'STAGED') {
        throw new GrpcError(Code.UNIMPLEMENTED, `apply configuration mode ${req.mode.toLowerCase().replace('_', '-')} is not supported in maintenance mode`);
      }
      const yaml = req.data.toString('utf8');
      checkDocumentKinds(yaml, node.profile);
      SimulatedNode.validateConfig(yaml, 'machine config');
      node.assertIdle('ApplyConfiguration');
      if (!req.dryRun) node.installFromMaintenance(yaml);
      return one({ warnings: [] });
    },
  },
  '/cosi.resource.State/Get': cosiHandlers.Get!,
  '/cosi.resource.State/List': cosiHandlers.List!,
};
