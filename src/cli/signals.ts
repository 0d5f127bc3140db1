/**
 * Resolves with the first SIGINT or SIGTERM; a second one exits at once (a stop that hangs can always be cut short).
 * Install it before starting anything, so a signal during start-up is not lost.
 */
export function untilSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    let received = false;
    const onSignal = (signal: NodeJS.Signals) => {
      if (received) {
        process.stderr.write(`${signal} again: exiting now\n`);
        process.exit(130);
      }
      received = true;
      resolve(signal);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
}
