import { Run } from '../../../src/workflows/run';

/** The input of {@link notificationBurst}. */
export interface BurstInput {
  cluster: string;
  events: number;
}

/** A run that reports `events` node events at once (test only): the real `Run`, its batching and its notify activity. */
export async function notificationBurst(input: BurstInput): Promise<void> {
  const run = new Run('upgrade', input.cluster, 'U0REQUEST');
  await run.execute(
    async () => {
      run.setNodes([{ name: 'n-1', address: '10.0.0.1', role: 'worker' }]);
      run.phase('burst', `${input.events} node events at once`);
      for (let i = 1; i <= input.events; i++) run.node('n-1', 'working', `event ${i} of ${input.events}`);
    },
    () => 'every event was reported',
  );
}
