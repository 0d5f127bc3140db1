import type { Command } from 'commander';

/** `talos-fleet sim ...`: run and steer a simulated Talos fleet. */
export function registerSim(program: Command): void {
  program.command('sim').description('Run and steer a simulated Talos fleet on loopback addresses.');
}
