import { Command, CommanderError } from 'commander';
import { FleetError } from '../errors';
import { registerSim } from './sim';
import { registerGen } from './gen';
import { registerBot } from './bot';
import { registerDev } from './dev';
import { registerInventory } from './inventory';
import { registerRunVerbs } from './runs';
import { registerBackupVerbs } from './backups';
import { registerSchedules } from './schedules';
import { registerStatus } from './status';
import { registerUpgrade } from './upgrade';
import { registerUpgradeKubernetes } from './upgrade-k8s';
import { registerApply } from './apply';
import { registerWorker } from './worker';

/** Builds the `talos-fleet` command; each verb lives in its own file and registers itself here. */
export function buildProgram(): Command {
  const program = new Command('talos-fleet')
    .description('Run Talos Linux Kubernetes fleets through durable Temporal workflows.')
    .showHelpAfterError()
    .exitOverride();
  registerDev(program);
  registerRunVerbs(program);
  registerUpgrade(program);
  registerUpgradeKubernetes(program);
  registerApply(program);
  registerBackupVerbs(program);
  registerSchedules(program);
  registerStatus(program);
  registerInventory(program);
  registerWorker(program);
  registerBot(program);
  registerSim(program);
  registerGen(program);
  return program;
}

/** Entry point: the only place that turns errors into exit codes. */
export async function main(argv: string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv, { from: 'user' });
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode;
    if (err instanceof FleetError) {
      process.stderr.write(`error: ${err.message}\n`);
      return 1;
    }
    process.stderr.write(`unexpected error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    return 2;
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      console.error(err);
      process.exit(2);
    },
  );
}
