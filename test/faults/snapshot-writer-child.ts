/**
 * Child process for the kill -9 fault test: fills a store deterministically from a seed and saves
 * it to <path> with the real incremental writer, a small chunk per step with a pause between steps
 * (a long write to be killed in). Prints "begun" once the temporary file exists.
 *
 * usage: node --import tsx snapshot-writer-child.ts <path> <seed> <capacity> <pauseMs>
 */
import { configHash } from '../../brain/memory/snapshot.js';
import { storeSection } from '../../brain/memory/snapshot-store.js';
import { SnapshotWriter } from '../../brain/memory/snapshot-writer.js';
import { ExperienceStore } from '../../brain/memory/store.js';
import { systemClock } from '../../runtime/clock.js';
import { CapturingLog, fillStore } from '../brain/memory/snapshot-helpers.js';

const [path, seedText, capacityText, pauseText] = process.argv.slice(2);
const seed = Number(seedText);
const capacity = Number(capacityText);
const pauseMs = Number(pauseText);
export const childLayout = { capacity, contextDim: 16, actionDim: 4, linksPerExperience: 4 };

const store = new ExperienceStore(childLayout);
fillStore(store, Math.floor(capacity * 0.9), Math.floor(capacity * 0.1), seed);
const writer = new SnapshotWriter({
  path: path!,
  sections: [storeSection(store, { blockBytes: 16 * 1024 })],
  clock: systemClock,
  log: new CapturingLog(),
  configHash: configHash(childLayout),
});
writer.begin();
process.stdout.write('begun\n');
const tick = (): void => {
  writer.step(systemClock.nowNs() + 200_000);
  if (writer.state() === 'idle') {
    process.stdout.write(writer.outcome()?.ok ? 'saved\n' : 'failed\n');
    return;
  }
  setTimeout(tick, pauseMs);
};
tick();
