/**
 * Logging through pino, decided at configuration time: structured JSON by default, human-readable
 * (pino-pretty) when stderr is a terminal. Hot-path code never logs per event: it counts, and
 * rate-limited summaries are logged from slack time (see RateLimitedLog).
 */
import pino, { type Logger } from 'pino';

export type { Logger };

export interface LogOptions {
  level?: string;
  /** force pretty (true) or JSON (false); default: pretty when stderr is a TTY */
  pretty?: boolean;
}

export function createLogger(options: LogOptions = {}): Logger {
  const level = options.level ?? process.env.ENGRAM_LOG_LEVEL ?? 'info';
  const pretty = options.pretty ?? process.stderr.isTTY === true;
  if (pretty) {
    return pino({
      level,
      transport: { target: 'pino-pretty', options: { destination: 2, colorize: true, ignore: 'pid,hostname' } },
    });
  }
  return pino({ level, base: undefined }, pino.destination({ fd: 2, sync: true }));
}

/** A silent logger for tests and benchmarks that must not print. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}

/**
 * Counts events and emits at most one summary line per interval. `count` is hot-path safe
 * (no allocation); `flush` is called from slack time and logs only when something was counted.
 */
export class RateLimitedLog {
  private pending = 0;
  total = 0;
  private lastFlushNs = 0;
  constructor(
    private readonly logger: Logger,
    private readonly message: string,
    private readonly intervalNs = 5e9,
  ) {}
  count(n = 1): void {
    this.pending += n;
    this.total += n;
  }
  flush(nowNs: number, reason?: string): void {
    if (this.pending === 0 || nowNs - this.lastFlushNs < this.intervalNs) return;
    this.logger.warn({ count: this.pending, total: this.total, reason }, this.message);
    this.pending = 0;
    this.lastFlushNs = nowNs;
  }
}
