/**
 * `engram inspect <snapshot>`: what a memory snapshot holds (counts, dims, created, config hash)
 * and whether its checksums hold. Exit 0 when the file is sound, 1 when it is damaged.
 */

import { SnapshotError } from '../../brain/memory/snapshot.js';
import { inspectSnapshot } from '../../brain/memory/snapshot-reader.js';
import { parseCommandArgs, printJsonLast, type Subcommand, UsageError } from './args.js';

const help = `usage: engram inspect <snapshot> [--json] [--no-checksum]

Prints what a memory snapshot holds: format version, when it was created, the config hash, each
section (experiences: capacity, live count, dims; normaliser; progress) and the checksum status.
Exit status: 0 sound, 1 damaged or unreadable (the problem is named), 2 usage.

options:
  --json          print one JSON object as the last line of stdout
  --no-checksum   skip reading the payload (header and size checks only; fast on huge files)`;

export const command: Subcommand = {
  name: 'inspect',
  summary: 'print what a memory snapshot holds',
  help,
  async run(argv) {
    const args = parseCommandArgs(argv, { json: { type: 'boolean' }, 'no-checksum': { type: 'boolean' } }, help, true);
    if (!args) return 0;
    const [file, ...extra] = args.positionals;
    if (file === undefined) throw new UsageError('expected the snapshot file to inspect');
    if (extra.length > 0) throw new UsageError(`one snapshot at a time; unexpected ${extra.join(' ')}`);
    const json = args.values.json === true;
    try {
      const info = inspectSnapshot(file, { checkSums: args.values['no-checksum'] !== true });
      const summary = {
        file: info.file,
        ok: info.checksum !== 'mismatch',
        fileBytes: info.fileBytes,
        formatVersion: info.header.formatVersion,
        created: info.header.created,
        configHash: info.header.configHash,
        checksum: info.checksum,
        damagedSections: info.damagedSections,
        sections: info.header.sections.map((section) => ({
          name: section.name,
          bytes: section.byteLength,
          ...section.meta,
        })),
      };
      const lines = [
        `snapshot   ${info.file} (${(info.fileBytes / 2 ** 20).toFixed(2)} MiB, format ${info.header.formatVersion})`,
        `created    ${info.header.created}`,
        `config     ${info.header.configHash}`,
        `checksum   ${info.checksum}${info.damagedSections.length > 0 ? ` (damaged: ${info.damagedSections.join(', ')})` : ''}`,
      ];
      for (const section of info.header.sections) {
        const meta = Object.entries(section.meta)
          .map(([key, value]) => `${key}=${value}`)
          .join(' ');
        lines.push(`section    ${section.name.padEnd(12)} ${String(section.byteLength).padStart(12)} bytes  ${meta}`);
      }
      process.stdout.write(`${lines.join('\n')}\n`);
      if (json) printJsonLast(summary);
      return summary.ok ? 0 : 1;
    } catch (error) {
      if (!(error instanceof SnapshotError)) throw error;
      process.stderr.write(`engram inspect: ${error.message}\n`);
      if (json) printJsonLast({ file, ok: false, problem: error.problem, error: error.message });
      return 1;
    }
  },
};
