/**
 * Graceful shutdown on SIGINT/SIGTERM: the first signal asks the loop to finish its cycle and stop
 * (the caller then publishes the safe action, flushes logs and stops drivers); a second signal
 * exits at once.
 */
export interface ShutdownHandle {
  /** the signal that asked for shutdown, if any */
  readonly signal: NodeJS.Signals | undefined;
  /** removes the handlers (after a clean stop) */
  dispose(): void;
}

export function onShutdownSignals(
  requestStop: (signal: NodeJS.Signals) => void,
  exitNow: (signal: NodeJS.Signals) => void = (signal) => {
    process.exit(signal === 'SIGINT' ? 130 : 143);
  },
  signals: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM'],
): ShutdownHandle {
  let received: NodeJS.Signals | undefined;
  const handler = (signal: NodeJS.Signals): void => {
    if (received !== undefined) {
      exitNow(signal);
      return;
    }
    received = signal;
    requestStop(signal);
  };
  for (const signal of signals) process.on(signal, handler);
  return {
    get signal() {
      return received;
    },
    dispose() {
      for (const signal of signals) process.off(signal, handler);
    },
  };
}
