import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ExperienceStore, NO_SLOT } from '../../../brain/memory/store.js';

const store = suite('ExperienceStore');

store('hands out exactly capacity slots, then NO_SLOT', () => {
  const s = new ExperienceStore({ capacity: 5, contextDim: 3, actionDim: 1, linksPerExperience: 2 });
  const seen = new Set<number>();
  for (let i = 0; i < 5; i++) seen.add(s.allocate(i));
  assert.is(seen.size, 5);
  assert.is(s.size(), 5);
  assert.ok(s.isFull());
  assert.is(s.allocate(6), NO_SLOT);
  assert.is(s.size(), 5);
});

store('a released slot is reused with a new generation and reset fields', () => {
  const s = new ExperienceStore({ capacity: 2, contextDim: 2, actionDim: 1, linksPerExperience: 1 });
  const a = s.allocate(0);
  const b = s.allocate(0);
  s.reward[a] = 5;
  s.returnEstimate[a] = 7;
  const generation = s.generation[a]!;
  s.release(a);
  assert.is(s.size(), 1);
  const again = s.allocate(3);
  assert.is(again, a);
  assert.is(s.generation[a], generation + 1);
  assert.is(s.reward[a], 0);
  assert.is(s.returnEstimate[a], 0);
  assert.is(s.lastAccess[a], 3);
  assert.is.not(b, a);
});

store('links and successors to a reused slot are dead', () => {
  const s = new ExperienceStore({ capacity: 3, contextDim: 1, actionDim: 1, linksPerExperience: 1 });
  const a = s.allocate(0);
  const b = s.allocate(0);
  s.links[a] = b;
  s.linkGeneration[a] = s.generation[b]!;
  s.successor[a] = b;
  s.successorGeneration[a] = s.generation[b]!;
  assert.ok(s.linkIsLive(a, 0));
  assert.is(s.liveSuccessor(a), b);
  s.release(b);
  assert.not.ok(s.linkIsLive(a, 0));
  const c = s.allocate(1);
  s.allocate(1);
  assert.ok(c === b || s.generation[b]! > 1);
  assert.not.ok(s.linkIsLive(a, 0));
  assert.is(s.liveSuccessor(a), NO_SLOT);
});

store.run();
