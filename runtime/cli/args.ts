/**
 * Shared argument handling for every subcommand: one place for --help and --json conventions.
 * Each subcommand module exports `command: Subcommand`.
 */
import { type ParseArgsConfig, parseArgs } from 'node:util';

export interface Subcommand {
  /** e.g. 'sim' or 'bench brain' */
  readonly name: string;
  /** one line for the top-level listing */
  readonly summary: string;
  /** full --help text (usage and options) */
  readonly help: string;
  /** runs the command; resolves to the process exit code */
  run(argv: string[]): Promise<number>;
}

export class UsageError extends Error {
  override name = 'UsageError';
}

type Options = NonNullable<ParseArgsConfig['options']>;

/**
 * Parse `argv` strictly against `options` (unknown flags are an error that names the flag).
 * `--help` is always accepted: when given, prints `help` and returns undefined.
 */
export function parseCommandArgs<T extends Options>(
  argv: string[],
  options: T,
  help: string,
  allowPositionals = false,
): ReturnType<typeof parseArgs<{ options: T; allowPositionals: boolean; strict: true }>> | undefined {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(`${help.trimEnd()}\n`);
    return undefined;
  }
  try {
    return parseArgs({ args: argv, options, allowPositionals, strict: true });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

/** Parse a positive number flag, with a clear error naming the flag. */
export function numberFlag(value: string | undefined, flag: string, fallback: number): number {
  if (value === undefined) return fallback;
  const parsed = Number(value);
  if (!Number.isFinite(parsed)) throw new UsageError(`--${flag} expects a number, got '${value}'`);
  return parsed;
}

/** Parse a duration such as '30s', '500ms', '2m' or a bare number of seconds, into ms. */
export function durationFlag(value: string | undefined, flag: string, fallbackMs: number): number {
  if (value === undefined) return fallbackMs;
  const match = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(value.trim());
  if (!match) throw new UsageError(`--${flag} expects a duration like 30s, 500ms or 2m, got '${value}'`);
  const amount = Number(match[1]);
  const unit = match[2] ?? 's';
  return unit === 'ms' ? amount : unit === 's' ? amount * 1000 : amount * 60_000;
}

/**
 * Measuring commands with --json print exactly one JSON object as the last line of stdout;
 * human output goes before it (or to stderr).
 */
export function printJsonLast(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}

/**
 * A subcommand whose issue has not landed yet: it says so plainly and exits 2, so nobody mistakes
 * it for a working command. Replaced by the real module when the issue lands.
 */
export function notYetBuilt(name: string, issue: number, what: string): Subcommand {
  const help = `engram ${name}: ${what}\n\nNot built yet: this command arrives with issue #${issue}.`;
  return {
    name,
    summary: what,
    help,
    async run() {
      process.stderr.write(`${help}\n`);
      return 2;
    },
  };
}
