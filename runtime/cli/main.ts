#!/usr/bin/env node
/**
 * The `engram` command: the composition root's entry. Subcommands load lazily so that a missing
 * optional dependency only affects the command that needs it.
 */
import { type Subcommand, UsageError } from './args.js';

/** name -> module exporting `command: Subcommand`. One line per subcommand. */
const subcommands: Record<string, { summary: string; load: () => Promise<{ command: Subcommand }> }> = {
  run: { summary: 'run the loop with a config (drivers, brain, safety)', load: () => import('./run.js') },
  sim: { summary: 'learn a simulated task in-process or over ZeroMQ', load: () => import('./sim.js') },
  bench: { summary: 'benchmarks: brain, loop, transport, paths, all', load: () => import('./bench.js') },
  profile: { summary: 'record a cycle-time profile; profile compare a b', load: () => import('./profile.js') },
  calibrate: { summary: 'measure similarity path crossovers into a profile', load: () => import('./calibrate.js') },
  replay: { summary: 'replay a flight recording and check actions bit for bit', load: () => import('./replay.js') },
  inspect: { summary: 'print what a memory snapshot holds', load: () => import('./inspect.js') },
};

function topLevelHelp(): string {
  const lines = ['usage: engram <command> [options]     (engram <command> --help for details)', '', 'commands:'];
  for (const [name, entry] of Object.entries(subcommands)) lines.push(`  ${name.padEnd(10)} ${entry.summary}`);
  return lines.join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(`${topLevelHelp()}\n`);
    return name === undefined ? 2 : 0;
  }
  const entry = subcommands[name];
  if (!entry) {
    process.stderr.write(`engram: unknown command '${name}'\n\n${topLevelHelp()}\n`);
    return 2;
  }
  try {
    const { command } = await entry.load();
    return await command.run(rest);
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`engram ${name}: ${error.message}\n(see engram ${name} --help)\n`);
      return 2;
    }
    throw error;
  }
}

// Run when executed directly (not when imported by a test).
if (import.meta.url === `file://${process.argv[1]}` || process.argv[1]?.endsWith('/cli/main.js')) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      process.stderr.write(`engram: ${(error as Error).stack ?? String(error)}\n`);
      process.exitCode = 1;
    },
  );
}
