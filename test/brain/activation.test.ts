import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ActiveSet } from '../../brain/activation.js';
import { ExperienceStore } from '../../brain/memory/store.js';

const activation = suite('ActiveSet');

/** A chain 0 -> 1 -> 2 -> ... of links with weight 1. */
function chainStore(n: number) {
  const store = new ExperienceStore({ capacity: n, contextDim: 1, actionDim: 1, linksPerExperience: 1 });
  for (let i = 0; i < n; i++) store.allocate(0);
  for (let i = 0; i + 1 < n; i++) {
    store.links[i] = i + 1;
    store.linkGeneration[i] = store.generation[i + 1]!;
    store.linkWeight[i] = 1;
  }
  return store;
}

activation('spreads along links, scaled by spread and link weight', () => {
  const store = chainStore(4);
  const set = new ActiveSet(store, 8, 0.5, 0.5, 0.01);
  set.activate(0, 1);
  set.spreadFrom(new Int32Array([0]), 1);
  assert.is(set.of(0), 1);
  assert.is(set.of(1), 0.5);
  assert.is(set.of(2), 0); // one hop per spread
  set.spreadFrom(new Int32Array([1]), 1);
  assert.is(set.of(2), 0.25);
});

activation('decays every step and drops below the threshold', () => {
  const store = chainStore(2);
  const set = new ActiveSet(store, 8, 0.5, 0.5, 0.1);
  set.activate(0, 1);
  set.decayAll();
  assert.is(set.of(0), 0.5);
  set.decayAll();
  set.decayAll();
  assert.is(set.of(0), 0.125);
  set.decayAll();
  assert.is(set.of(0), 0);
  assert.is(set.count, 0);
});

activation('stays bounded: a weaker newcomer is dropped, a stronger one replaces the weakest', () => {
  const store = chainStore(10);
  const set = new ActiveSet(store, 3, 0.9, 0.5, 0.01);
  set.activate(0, 0.5);
  set.activate(1, 0.6);
  set.activate(2, 0.7);
  set.activate(3, 0.4);
  assert.is(set.count, 3);
  assert.is(set.of(3), 0);
  set.activate(4, 0.9);
  assert.is(set.count, 3);
  assert.is(set.of(0), 0);
  assert.ok(Math.abs(set.of(4) - 0.9) < 1e-6);
  for (let i = 0; i < 10; i++) set.activate(i, 0.2 + i * 0.05);
  assert.ok(set.count <= 3);
});

activation('an evicted experience leaves the set; a dead link does not spread', () => {
  const store = chainStore(3);
  const set = new ActiveSet(store, 8, 0.9, 0.5, 0.01);
  set.activate(0, 1);
  set.activate(2, 1);
  store.release(1);
  store.allocate(0); // slot 1 reused: the link 0 -> 1 is now dead
  set.spreadFrom(new Int32Array([0]), 1);
  assert.is(set.of(1), 0);
  set.remove(2);
  assert.is(set.of(2), 0);
  assert.is(set.count, 1);
});

activation.run();
