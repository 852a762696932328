/**
 * The brain: a Controller that learns online from every sensory-motor moment.
 *
 * step (hot path, anytime, allocates nothing): validate -> normalise -> one context lookup ->
 * activation -> plan (kNN forward model over candidate sequences) -> action.
 * maintain (slack time, fixed work per call): store the previous transition as an experience
 * (links from its own lookup, Q = r + discount * V(next) from the new lookup), link it as the
 * successor of the one before, TD backups over the episode's recent experiences and a few random
 * ones, evict by utility down to the effective cap, react to memory pressure.
 *
 * Work in maintain does not depend on how much time is left (only the index's own slack work
 * does), so the same seed and inputs give the same actions under any clock.
 */
import type { Clock, Controller, Effort, EventLog, Frame, StatusCode, StepTimings } from '../runtime/contracts.js';
import { LookupPath, type LookupPathCode, Status } from '../runtime/contracts.js';
import { ActiveSet } from './activation.js';
import { Beacons } from './beacons.js';
import type { BrainConfig } from './config.js';
import { LocalLinearModel } from './local-model.js';
import { Evictor } from './memory/eviction.js';
import { MemoryPressure } from './memory/pressure.js';
import { type ExperienceStore, NO_SLOT } from './memory/store.js';
import { type KernelPath, loadNearestRows } from './native-kernels.js';
import { Normaliser } from './normalise.js';
import { Planner } from './plan.js';
import { ForwardModel } from './predict.js';
import { Rng } from './rng.js';
import type { SimilarityIndex } from './similarity/backend.js';

/** Cells of the hashed visit-count grid (exploration.intrinsicWeight > 0): 2^18 counters, 1 MiB. */
const VISIT_CELL_BITS = 18;
const VISIT_CELLS = 1 << VISIT_CELL_BITS;

export interface BrainOptions {
  clock: Clock;
  log: EventLog;
  /** free system memory in bytes, read at most once per pressure interval (default: os.freemem) */
  freeMemoryBytes: () => number;
  /** hard cap by count after the byte budget (<= store.capacity) */
  hardCap: number;
  /**
   * where the planner's arithmetic runs (the local model's fit and predict, the first walk step):
   * 'native' (default) in engram's kernel addon when it is built, 'javascript' always in
   * JavaScript; the same results either way (brain/native-kernels.ts)
   */
  kernels?: KernelPath;
}

/** Counted events; read by metrics and tests, never reset by the brain. */
export interface BrainCounters {
  steps: number;
  rejectedNonFinite: number;
  rejectedWrongLength: number;
  deadlineHits: number;
  stored: number;
  /** transitions not stored because maintain did not run between two steps */
  transitionsSkipped: number;
  /** transitions not stored because memory was at its cap and the eviction sample found nothing */
  storeRefused: number;
  evictions: number;
  backups: number;
}

export class Brain implements Controller {
  readonly observationSize: number;
  readonly actionSize: number;
  readonly normaliser: Normaliser;
  readonly active: ActiveSet;
  readonly model: ForwardModel;
  readonly local: LocalLinearModel;
  readonly planner: Planner;
  readonly counters: BrainCounters = {
    steps: 0,
    rejectedNonFinite: 0,
    rejectedWrongLength: 0,
    deadlineHits: 0,
    stored: 0,
    transitionsSkipped: 0,
    storeRefused: 0,
    evictions: 0,
    backups: 0,
  };
  /** the count cap in force: the hard cap, lowered under memory pressure */
  effectiveCap: number;
  readonly hardCap: number;

  private readonly clock: Clock;
  private readonly rng: Rng;
  /** separate stream for slack-time choices (sweeps, eviction samples): the planner's stream stays put */
  private readonly maintenanceRng: Rng;
  private readonly evictor: Evictor;
  private readonly pressure: MemoryPressure;
  private readonly k: number;
  private readonly discount: number;
  private readonly stateKernel: number;
  private readonly optimism: number;
  /**
   * Intrinsic returns per slot (exploration.intrinsicWeight > 0; empty otherwise): a count-based
   * bonus backed up like returnEstimate, read by the planner's end value while exploring.
   */
  readonly intrinsicValue: Float32Array;
  /**
   * Visits per cell of a hashed grid over the context (cells noveltyRadius wide), counted every
   * step while exploring. Access counts cannot serve: every visit also stores an experience, and
   * the k accesses of a lookup spread over them, so a slot's count is about k wherever it lies.
   */
  readonly visitCounts: Uint32Array;
  private readonly intrinsicOn: boolean;
  /** the best stored states for the planner's end value (planner.beacons > 0), else null */
  readonly beacons: Beacons | null;
  private readonly intrinsicBonus: number;
  private readonly intrinsicDiscount: number;
  private readonly inverseCell: number;
  /** the step's stage boundaries (Clock.stampNs: clock reads without boxing) */
  private readonly stageStamps = new Float64Array(5);
  private exploring = true;
  private lookupPath: LookupPathCode = LookupPath.none;
  private maintainCalls = 0;
  /** what the index's maintain reported last (slackWork) */
  private lastSlackWork = 0;
  /** whether the index held its writes back during the last maintain (slackWritesHeld) */
  private lastWritesHeld = false;
  /** one past the highest slot ever stored (planner.sweepUsedSlots) */
  private slotsUsed = 0;

  // Two of each per-frame buffer, swapped each valid step: "cur" is this frame, "prev" the one before.
  private ctxCur: Float32Array;
  private ctxPrev: Float32Array;
  private actionCur: Float32Array;
  private actionPrev: Float32Array;
  private lookupSlotsCur: Int32Array;
  private lookupSlotsPrev: Int32Array;
  private lookupDistCur: Float32Array;
  private lookupDistPrev: Float32Array;
  private lookupGenCur: Uint32Array;
  private lookupGenPrev: Uint32Array;
  private lookupCountCur = 0;
  private lookupCountPrev = 0;
  private bandwidthCur = 1;
  private bandwidthPrev = 1;
  private rewardCur = 0;
  /** frame ids (count of valid frames) of cur and prev; a transition is prev -> cur */
  private frameId = 0;
  private prevFrameId = -1;
  /** true when prev -> cur is a real transition (same episode, nothing rejected in between) */
  private transitionPending = false;
  private chainBroken = true;
  private lastStoredSlot = NO_SLOT;
  private lastStoredGeneration = 0;
  /** frame id that ended the last stored transition: the next one links to it if it starts there */
  private lastStoredEndFrame = -1;
  /** this episode's most recent experiences (ring), backed up newest first on every maintain */
  /**
   * Experiences stored while the normaliser still moved keep their raw context and outcome here;
   * once it freezes, maintain re-encodes them with the final statistics (a bounded batch per call)
   * so early and late contexts are comparable.
   */
  private readonly warmupSlots: Int32Array;
  private readonly warmupGeneration: Uint32Array;
  private readonly warmupRaw: Float32Array;
  private readonly warmupRawOutcome: Float32Array;
  private warmupCount = 0;
  /** whether cur / prev were encoded with the frozen (final) statistics */
  private finalStatsCur = false;
  private finalStatsPrev = false;
  private warmupCursor = 0;
  private readonly rawCur: Float32Array;
  private readonly rawPrev: Float32Array;
  private readonly recent: Int32Array;
  private readonly recentGeneration: Uint32Array;
  private recentCount = 0;
  private recentHead = 0;

  constructor(
    readonly config: BrainConfig,
    readonly store: ExperienceStore,
    readonly index: SimilarityIndex,
    options: BrainOptions,
  ) {
    const dim = store.contextDim;
    const actionDim = store.actionDim;
    if (index.dim !== dim) throw new RangeError(`similarity index dim ${index.dim} differs from the store's ${dim}`);
    if (!(options.hardCap >= 1 && options.hardCap <= store.capacity)) {
      throw new RangeError(`hardCap must be in [1, ${store.capacity}], got ${options.hardCap}`);
    }
    this.observationSize = dim;
    this.actionSize = actionDim;
    this.clock = options.clock;
    this.hardCap = options.hardCap;
    this.effectiveCap = options.hardCap;
    this.k = config.similarity.k;
    this.discount = config.planner.discount;
    this.stateKernel = config.planner.stateKernel;
    this.optimism = config.planner.optimism;
    this.intrinsicOn = config.exploration.intrinsicWeight > 0;
    this.intrinsicBonus = config.exploration.intrinsicBonus;
    this.intrinsicDiscount = config.exploration.intrinsicDiscount;
    this.intrinsicValue = new Float32Array(this.intrinsicOn ? store.capacity : 0);
    this.visitCounts = new Uint32Array(this.intrinsicOn ? VISIT_CELLS : 0);
    this.inverseCell = 1 / config.exploration.noveltyRadius;
    this.rng = new Rng(config.seed);
    this.maintenanceRng = new Rng(config.seed ^ 0x5bd1e995);
    this.normaliser = new Normaliser(dim, config.normaliser.warmupSteps, config.normaliser.minStd);
    const { activation, planner, exploration, memory } = config;
    this.active = new ActiveSet(store, activation.maxActive, activation.decay, activation.spread, activation.threshold);
    const range = planner.actionMax - planner.actionMin;
    this.model = new ForwardModel(store, Math.max(this.k, planner.modelK), range, planner.actionKernel);
    this.model.optimism = planner.optimism;
    this.local = new LocalLinearModel(
      store,
      this.k,
      planner.actionMin,
      planner.actionMax,
      planner.ridge,
      planner.discount,
      planner.valueKernel === 'quadratic',
      options.kernels ?? 'native',
    );
    this.beacons =
      planner.beacons > 0 ? new Beacons(store, planner.beacons, planner.beaconSlope, planner.beaconRadius) : null;
    this.planner = new Planner(
      store,
      this.model,
      this.local,
      this.active,
      this.rng,
      this.clock,
      {
        candidates: planner.candidates,
        horizon: planner.horizon,
        discount: planner.discount,
        modelK: planner.modelK,
        actionMin: planner.actionMin,
        actionMax: planner.actionMax,
        perturbation: planner.perturbation,
        noveltyWeight: exploration.noveltyWeight,
        errorWeight: exploration.errorWeight,
        noise: exploration.noise,
        minNoise: exploration.minNoise,
        noiseCorrelation: exploration.noiseCorrelation,
        model: planner.model,
        selection: planner.selection,
        temperature: planner.temperature,
        rolloutReward: planner.rolloutReward,
        lookupValueWeight: planner.lookupValueWeight,
        stateNoveltyWeight: exploration.stateNoveltyWeight,
        noveltyRadius: exploration.noveltyRadius,
        rolloutDynamics: planner.rolloutDynamics,
        intrinsicWeight: exploration.intrinsicWeight,
        intrinsicMax: exploration.intrinsicBonus / (1 - exploration.intrinsicDiscount),
        beaconPath: planner.beaconPath,
      },
      planner.rolloutReward === 'lookup' ? index : null,
      this.intrinsicOn ? this.intrinsicValue : null,
      this.beacons,
      options.kernels === 'javascript' ? null : loadNearestRows(),
    );
    this.evictor = new Evictor(store, index, this.active, this.maintenanceRng, memory.evictionSample);
    this.pressure = new MemoryPressure(this.clock, options.log, {
      minFreeBytes: memory.minFreeSystemMiB * 2 ** 20,
      checkMs: memory.pressureCheckMs,
      shrink: memory.pressureShrink,
      freeBytes: options.freeMemoryBytes,
    });
    this.ctxCur = new Float32Array(dim);
    this.ctxPrev = new Float32Array(dim);
    this.actionCur = new Float32Array(actionDim);
    this.actionPrev = new Float32Array(actionDim);
    this.lookupSlotsCur = new Int32Array(this.k);
    this.lookupSlotsPrev = new Int32Array(this.k);
    this.lookupDistCur = new Float32Array(this.k);
    this.lookupDistPrev = new Float32Array(this.k);
    this.lookupGenCur = new Uint32Array(this.k);
    this.lookupGenPrev = new Uint32Array(this.k);
    const warmup = config.normaliser.warmupSteps;
    this.warmupSlots = new Int32Array(warmup);
    this.warmupGeneration = new Uint32Array(warmup);
    this.warmupRaw = new Float32Array(warmup * dim);
    this.warmupRawOutcome = new Float32Array(warmup * dim);
    this.rawCur = new Float32Array(dim);
    this.rawPrev = new Float32Array(dim);
    this.recent = new Int32Array(Math.max(1, planner.recentBackups));
    this.recentGeneration = new Uint32Array(this.recent.length);
    this.refreshLookupPath();
  }

  step(frame: Frame, deadlineNs: number, actionOut: Float32Array, timings: StepTimings): StatusCode {
    const clock = this.clock;
    const stamps = this.stageStamps;
    clock.stampNs(stamps, 0);
    const observation = frame.observation;
    const dim = this.observationSize;
    if (observation.length !== dim || actionOut.length !== this.actionSize) {
      this.counters.rejectedWrongLength++;
      this.chainBroken = true;
      return Status.wrongLength;
    }
    for (let i = 0; i < dim; i++) {
      if (!Number.isFinite(observation[i]!)) {
        this.counters.rejectedNonFinite++;
        this.chainBroken = true;
        return Status.nonFinite;
      }
    }
    if (!Number.isFinite(frame.reward)) {
      this.counters.rejectedNonFinite++;
      this.chainBroken = true;
      return Status.nonFinite;
    }
    this.index.atCycleBoundary();
    if (this.transitionPending) this.counters.transitionsSkipped++;
    this.swapBuffers();
    for (let i = 0; i < dim; i++) {
      this.rawPrev[i] = this.rawCur[i]!;
      this.rawCur[i] = observation[i]!;
    }
    this.normaliser.observe(observation);
    this.normaliser.normalise(observation, this.ctxCur);
    this.finalStatsPrev = this.finalStatsCur;
    this.finalStatsCur = this.normaliser.frozen;
    this.rewardCur = frame.reward;
    this.prevFrameId = this.frameId;
    this.frameId++;
    this.transitionPending = !frame.episodeStart && !this.chainBroken;
    this.chainBroken = false;
    if (frame.episodeStart) {
      this.planner.reset();
      this.recentCount = 0;
    }
    clock.stampNs(stamps, 1);

    const step = this.counters.steps;
    const count =
      this.index.size() > 0 ? this.index.search(this.ctxCur, this.k, this.lookupSlotsCur, this.lookupDistCur) : 0;
    this.lookupCountCur = count;
    const store = this.store;
    for (let n = 0; n < count; n++) {
      const slot = this.lookupSlotsCur[n]!;
      this.lookupGenCur[n] = store.generation[slot]!;
      store.accessCount[slot] = store.accessCount[slot]! + 1;
      store.lastAccess[slot] = step;
    }
    if (this.intrinsicOn && this.exploring) {
      const cell = this.cellOf(this.ctxCur, 0);
      this.visitCounts[cell] = this.visitCounts[cell]! + 1;
    }
    this.model.adaptBandwidth(this.lookupDistCur, count, this.stateKernel);
    this.bandwidthCur = this.model.stateBandwidth;
    clock.stampNs(stamps, 2);

    const active = this.active;
    active.decayAll();
    active.bandwidth = this.bandwidthCur;
    active.activateRetrieved(this.lookupSlotsCur, this.lookupDistCur, count);
    active.spreadFrom(this.lookupSlotsCur, count);
    clock.stampNs(stamps, 3);

    this.planner.deadlineNs = deadlineNs;
    const status = this.planner.choose(
      this.ctxCur,
      this.lookupSlotsCur,
      this.lookupDistCur,
      count,
      this.exploring,
      actionOut,
    );
    for (let i = 0; i < this.actionSize; i++) this.actionCur[i] = actionOut[i]!;
    if (status === Status.deadline) this.counters.deadlineHits++;
    clock.stampNs(stamps, 4);

    timings.encodeNs = stamps[1]! - stamps[0]!;
    timings.lookupNs = stamps[2]! - stamps[1]!;
    timings.activationNs = stamps[3]! - stamps[2]!;
    timings.planNs = stamps[4]! - stamps[3]!;
    timings.lookupPath = count > 0 ? this.lookupPath : LookupPath.none;
    this.counters.steps++;
    return status;
  }

  /** Deferred work: a fixed amount per call (so results do not depend on timing), then the index's slack work. */
  maintain(untilNs: number): void {
    // An export starts or ends only between maintains (its start is in a snapshot flush, its end
    // a callback), so the state now holds for every remove below.
    this.lastWritesHeld = this.index.writesHeld();
    if (this.transitionPending) {
      this.transitionPending = false;
      this.storeTransition();
    }
    // A fixed, small batch: each re-encoded experience is also re-indexed (an HNSW update costs up to
    // milliseconds where it is applied at once); 16 per call re-encodes 2,000 warm-up steps in 125 calls.
    if (this.normaliser.frozen && this.warmupCursor < this.warmupCount) this.reencodeWarmup(16);
    this.effectiveCap = this.pressure.check(this.effectiveCap, this.store.size());
    const perCycle = this.config.memory.evictionsPerCycle;
    for (let e = 0; e < perCycle && this.store.size() > this.effectiveCap; e++) {
      if (this.evictOne() === NO_SLOT) break;
    }
    this.backupRecent();
    if (this.beacons !== null) this.beacons.scale = this.evictor.returnScale;
    const sweeps = this.config.planner.sweepsPerMaintain;
    const capacity = this.config.planner.sweepUsedSlots ? this.slotsUsed : this.store.capacity;
    for (let s = 0; s < sweeps && this.store.size() > 0; s++) {
      const slot = this.maintenanceRng.below(capacity);
      if (this.store.alive[slot] === 1) this.backup(slot);
    }
    this.lastSlackWork = this.index.maintain(untilNs);
    // activePath() may build a string: read it in slack time, and not every cycle.
    if ((++this.maintainCalls & 63) === 0) this.refreshLookupPath();
  }

  /** Candidates the last step's planner scored: fewer than it had where the deadline cut it off (for replay). */
  stepWork(): number {
    return this.planner.scored;
  }

  /** Replay: the next step's planner scores exactly `units` candidates, as the recorded step did. */
  forceStepWork(units: number): void {
    this.planner.forcedScored = units;
  }

  /** Units of the last maintain's index work, whose amount depended on the time left (for replay). */
  slackWork(): number {
    return this.lastSlackWork;
  }

  /** Replay: the next maintain does exactly `units` of index work, as the recorded run did. */
  forceSlackWork(units: number): void {
    this.index.setSlackQuota(units);
  }

  /** Whether the last maintain ran with the index's writes held back by a snapshot export (for replay). */
  slackWritesHeld(): boolean {
    return this.lastWritesHeld;
  }

  /** Replay: maintains run with the index's writes held back (true) as a recorded export held them, or not. */
  forceSlackWritesHeld(held: boolean): void {
    this.index.holdWritesForReplay(held);
  }

  setEffort(effort: Effort): void {
    this.planner.setEffort(effort.candidates, effort.horizon);
    this.index.setEffort(effort.ef);
  }

  setExploration(enabled: boolean): void {
    this.exploring = enabled;
  }

  /**
   * The model's prediction for taking `action` at `observation` (raw units): writes the predicted
   * next observation and returns the confidence in [0, 1), or -1 for bad input. For tests and
   * tools; does one lookup, not part of the per-cycle budget.
   */
  predictOutcome(
    observation: Float32Array,
    action: Float32Array,
    outNext: Float32Array,
    model: 'kernel' | 'local-linear' = 'kernel',
  ): number {
    const dim = this.observationSize;
    if (observation.length !== dim || action.length !== this.actionSize || outNext.length !== dim) return -1;
    for (let i = 0; i < dim; i++) if (!Number.isFinite(observation[i]!)) return -1;
    for (let i = 0; i < this.actionSize; i++) if (!Number.isFinite(action[i]!)) return -1;
    const ctx = new Float32Array(dim);
    this.normaliser.normalise(observation, ctx);
    const slots = new Int32Array(this.k);
    const distances = new Float32Array(this.k);
    const count = this.index.size() > 0 ? this.index.search(ctx, this.k, slots, distances) : 0;
    const savedBandwidth = this.model.stateBandwidth;
    this.model.adaptBandwidth(distances, count, this.stateKernel);
    this.model.predict(ctx, slots, count, distances, action, 0);
    if (model === 'local-linear') {
      this.local.bandwidth = this.model.stateBandwidth;
      this.local.fit(ctx, slots, distances, count);
      this.local.predict(ctx, action, 0);
      this.normaliser.denormaliseDelta(this.local.delta, outNext);
    } else {
      this.normaliser.denormaliseDelta(this.model.delta, outNext);
    }
    this.model.stateBandwidth = savedBandwidth;
    for (let i = 0; i < dim; i++) outNext[i] = observation[i]! + outNext[i]!;
    return this.model.confidence;
  }

  /**
   * Tells the brain which action was actually applied after its last step (a safety filter clamped
   * it, or a teacher overrode it), so the stored experience holds what really happened. Call
   * between step and maintain; a wrong length or non-finite value is refused (returns false).
   */
  recordAppliedAction(applied: Float32Array): boolean {
    if (applied.length !== this.actionSize) return false;
    for (let i = 0; i < this.actionSize; i++) if (!Number.isFinite(applied[i]!)) return false;
    for (let i = 0; i < this.actionSize; i++) this.actionCur[i] = applied[i]!;
    return true;
  }

  /**
   * Evicts up to `count` experiences by utility now (tools, benchmarks, a caller shrinking memory).
   * Returns how many went.
   */
  evict(count: number): number {
    let evicted = 0;
    for (let e = 0; e < count; e++) {
      if (this.evictOne() === NO_SLOT) break;
      evicted++;
    }
    return evicted;
  }

  /** Live experiences in memory. */
  size(): number {
    return this.store.size();
  }

  /**
   * Snapshot support: the random streams whose state a restore continues (the planner's, then the
   * maintenance stream of sweeps and eviction samples), and the eviction's return scale.
   */
  randomStreams(): readonly Rng[] {
    return [this.rng, this.maintenanceRng];
  }

  get returnScale(): number {
    return this.evictor.returnScale;
  }

  set returnScale(value: number) {
    if (Number.isFinite(value) && value > 0) this.evictor.returnScale = value;
  }

  /** Frees native resources of the index. */
  dispose(): void {
    this.index.dispose();
  }

  private swapBuffers(): void {
    let f = this.ctxPrev;
    this.ctxPrev = this.ctxCur;
    this.ctxCur = f;
    f = this.actionPrev;
    this.actionPrev = this.actionCur;
    this.actionCur = f;
    const s = this.lookupSlotsPrev;
    this.lookupSlotsPrev = this.lookupSlotsCur;
    this.lookupSlotsCur = s;
    f = this.lookupDistPrev;
    this.lookupDistPrev = this.lookupDistCur;
    this.lookupDistCur = f;
    const g = this.lookupGenPrev;
    this.lookupGenPrev = this.lookupGenCur;
    this.lookupGenCur = g;
    this.lookupCountPrev = this.lookupCountCur;
    this.bandwidthPrev = this.bandwidthCur;
  }

  /** prev context + prev action -> outcome (cur - prev), reward of the cur frame, becomes an experience. */
  private storeTransition(): void {
    const store = this.store;
    const perCycle = this.config.memory.evictionsPerCycle;
    // Make room first: the cap is never exceeded, not even for one cycle.
    for (let e = 0; e < perCycle && store.size() >= this.effectiveCap; e++) {
      if (this.evictOne() === NO_SLOT) break;
    }
    if (store.size() >= this.effectiveCap) {
      this.counters.storeRefused++;
      return;
    }
    const step = this.counters.steps;
    const slot = store.allocate(step);
    if (slot === NO_SLOT) {
      this.counters.storeRefused++;
      return;
    }
    if (slot >= this.slotsUsed) this.slotsUsed = slot + 1;
    const dim = store.contextDim;
    const actionDim = store.actionDim;
    const ctxBase = slot * dim;
    for (let i = 0; i < dim; i++) {
      const from = this.ctxPrev[i]!;
      store.context[ctxBase + i] = from;
      store.outcome[ctxBase + i] = this.ctxCur[i]! - from;
    }
    const actionBase = slot * actionDim;
    for (let i = 0; i < actionDim; i++) store.action[actionBase + i] = this.actionPrev[i]!;
    store.reward[slot] = this.rewardCur;
    this.local.observeReward(this.rewardCur);

    // Prediction error: what the model (before learning this) expected for this (state, action).
    const model = this.model;
    model.stateBandwidth = this.bandwidthPrev;
    const livePrev = this.compactLiveLookup(
      this.lookupSlotsPrev,
      this.lookupDistPrev,
      this.lookupGenPrev,
      this.lookupCountPrev,
    );
    this.lookupCountPrev = livePrev;
    let error = 0;
    if (livePrev > 0) {
      model.predict(this.ctxPrev, this.lookupSlotsPrev, livePrev, this.lookupDistPrev, this.actionPrev, 0);
      let sum = 0;
      for (let i = 0; i < dim; i++) {
        const d = model.delta[i]! - store.outcome[ctxBase + i]!;
        sum += d * d;
      }
      error = Math.sqrt(sum / dim);
    } else {
      error = 1;
    }
    store.predictionError[slot] = error;

    // Links: the k most similar experiences from the lookup already done for this context.
    const links = store.linksPerExperience;
    const linkBase = slot * links;
    const invBandwidth = 1 / this.bandwidthPrev;
    let made = 0;
    for (let n = 0; n < livePrev && made < links; n++) {
      const target = this.lookupSlotsPrev[n]!;
      store.links[linkBase + made] = target;
      store.linkGeneration[linkBase + made] = this.lookupGenPrev[n]!;
      store.linkWeight[linkBase + made] = Math.exp(-this.lookupDistPrev[n]! * invBandwidth);
      made++;
    }

    // Q = r + discount * V(next context), V from the next context's own lookup.
    model.stateBandwidth = this.bandwidthCur;
    const liveCur = this.compactLiveLookup(
      this.lookupSlotsCur,
      this.lookupDistCur,
      this.lookupGenCur,
      this.lookupCountCur,
    );
    this.lookupCountCur = liveCur;
    model.stateValue(this.ctxCur, this.lookupSlotsCur, liveCur, this.lookupDistCur);
    const q = this.rewardCur + this.discount * model.stateValueOut;
    store.returnEstimate[slot] = q;
    if (this.intrinsicOn) {
      // model.weights holds stateValue's kernel weights over the live lookup
      let weightSum = 0;
      let weighted = 0;
      for (let n = 0; n < liveCur; n++) {
        const w = model.weights[n]!;
        weightSum += w;
        weighted += w * this.intrinsicValue[this.lookupSlotsCur[n]!]!;
      }
      const nextIntrinsic = weightSum > 0 ? weighted / weightSum : 0;
      const visits = this.visitCounts[this.cellOf(store.context, ctxBase)]!;
      this.intrinsicValue[slot] = this.intrinsicBonus / Math.sqrt(1 + visits) + this.intrinsicDiscount * nextIntrinsic;
    }
    const magnitude = q < 0 ? -q : q;
    if (magnitude > this.evictor.returnScale) this.evictor.returnScale = magnitude;

    this.index.upsert(slot, this.ctxPrev);
    if (this.beacons !== null) this.beacons.consider(slot);
    this.counters.stored++;
    if (!(this.finalStatsPrev && this.finalStatsCur) && this.warmupCount < this.warmupSlots.length) {
      const w = this.warmupCount++;
      this.warmupSlots[w] = slot;
      this.warmupGeneration[w] = store.generation[slot]!;
      for (let i = 0; i < dim; i++) {
        this.warmupRaw[w * dim + i] = this.rawPrev[i]!;
        this.warmupRawOutcome[w * dim + i] = this.rawCur[i]! - this.rawPrev[i]!;
      }
    }

    // Successor link and backup for the experience that ended where this one starts.
    const previous = this.lastStoredSlot;
    if (
      previous !== NO_SLOT &&
      this.lastStoredEndFrame === this.prevFrameId &&
      store.alive[previous] === 1 &&
      store.generation[previous] === this.lastStoredGeneration
    ) {
      store.successor[previous] = slot;
      store.successorGeneration[previous] = store.generation[slot]!;
      this.backup(previous);
    } else {
      this.recentCount = 0; // a new chain (episode) starts here
    }
    this.lastStoredSlot = slot;
    this.lastStoredGeneration = store.generation[slot]!;
    this.lastStoredEndFrame = this.frameId;
    this.recent[this.recentHead] = slot;
    this.recentGeneration[this.recentHead] = store.generation[slot]!;
    this.recentHead = (this.recentHead + 1) % this.recent.length;
    if (this.recentCount < this.recent.length) this.recentCount++;
  }

  /** Re-encodes up to `batch` warm-up experiences with the frozen statistics (and re-indexes them). */
  private reencodeWarmup(batch: number): void {
    const store = this.store;
    const dim = store.contextDim;
    const mean = this.normaliser.mean;
    const invStd = this.normaliser.invStd;
    const end = Math.min(this.warmupCount, this.warmupCursor + batch);
    for (let w = this.warmupCursor; w < end; w++) {
      const slot = this.warmupSlots[w]!;
      if (store.alive[slot] !== 1 || store.generation[slot] !== this.warmupGeneration[w]) continue;
      const base = slot * dim;
      for (let i = 0; i < dim; i++) {
        store.context[base + i] = (this.warmupRaw[w * dim + i]! - mean[i]!) * invStd[i]!;
        store.outcome[base + i] = this.warmupRawOutcome[w * dim + i]! * invStd[i]!;
      }
      this.index.upsert(slot, store.context.subarray(base, base + dim));
    }
    this.warmupCursor = end;
  }

  /** Drops lookup results whose slot was evicted (or reused) since the lookup; returns the live count. */
  private compactLiveLookup(
    slots: Int32Array,
    distances: Float32Array,
    generations: Uint32Array,
    count: number,
  ): number {
    const store = this.store;
    let live = 0;
    for (let n = 0; n < count; n++) {
      const slot = slots[n]!;
      if (store.alive[slot] !== 1 || store.generation[slot] !== generations[n]) continue;
      slots[live] = slot;
      distances[live] = distances[n]!;
      generations[live] = generations[n]!;
      live++;
    }
    return live;
  }

  /** TD backup: Q(slot) = r + discount * V(successor), V a smoothed max over the successor and its links. */
  private backup(slot: number): void {
    const store = this.store;
    const successor = store.liveSuccessor(slot);
    if (successor === NO_SLOT) {
      // an episode's last experience: its intrinsic return would otherwise keep its store-time
      // value, stale as its region is visited, and feed it to everything linked to it
      if (this.intrinsicOn) this.backupIntrinsic(slot, slot);
      return;
    }
    const links = store.linksPerExperience;
    const base = successor * links;
    let weightSum = 1;
    let weighted = store.returnEstimate[successor]!;
    for (let j = 0; j < links; j++) {
      if (!store.linkIsLive(successor, j)) continue;
      const w = store.linkWeight[base + j]!;
      weightSum += w;
      weighted += w * store.returnEstimate[store.links[base + j]!]!;
    }
    const mean = weighted / weightSum;
    let value = mean;
    if (this.optimism > 0) {
      let best = store.returnEstimate[successor]!;
      for (let j = 0; j < links; j++) {
        if (!store.linkIsLive(successor, j)) continue;
        const w = store.linkWeight[base + j]!;
        const candidate = w * store.returnEstimate[store.links[base + j]!]! + (1 - w) * mean;
        if (candidate > best) best = candidate;
      }
      value = mean + this.optimism * (best - mean);
    }
    const q = store.reward[slot]! + this.discount * value;
    store.returnEstimate[slot] = q;
    const magnitude = q < 0 ? -q : q;
    if (magnitude > this.evictor.returnScale) this.evictor.returnScale = magnitude;
    if (this.beacons !== null) this.beacons.consider(slot);
    this.counters.backups++;
    if (this.intrinsicOn) this.backupIntrinsic(slot, successor);
  }

  /**
   * The intrinsic return of `slot`: bonus / sqrt(1 + its visit pseudo-count) + discount x
   * the weighted mean intrinsic return over the successor and its links (the extrinsic backup's
   * weights; an episode's last experience, with no successor, over itself and its links). Rarely
   * visited regions, and the way to them, keep a high intrinsic return.
   */
  private backupIntrinsic(slot: number, successor: number): void {
    const store = this.store;
    const intrinsic = this.intrinsicValue;
    const links = store.linksPerExperience;
    const base = successor * links;
    let weightSum = 1;
    let weighted = intrinsic[successor]!;
    for (let j = 0; j < links; j++) {
      if (!store.linkIsLive(successor, j)) continue;
      const w = store.linkWeight[base + j]!;
      weightSum += w;
      weighted += w * intrinsic[store.links[base + j]!]!;
    }
    // greedy over what was done from similar states (the smoothed max of the extrinsic backup at
    // optimism 1): the way to the unvisited counts, not what the behaviour happened to do
    const mean = weighted / weightSum;
    let best = intrinsic[successor]!;
    for (let j = 0; j < links; j++) {
      if (!store.linkIsLive(successor, j)) continue;
      const w = store.linkWeight[base + j]!;
      const candidate = w * intrinsic[store.links[base + j]!]! + (1 - w) * mean;
      if (candidate > best) best = candidate;
    }
    const visits = this.visitCounts[this.cellOf(store.context, slot * store.contextDim)]!;
    const bonus = this.intrinsicBonus / Math.sqrt(1 + visits);
    intrinsic[slot] = bonus + this.intrinsicDiscount * (best > mean ? best : mean);
  }

  /** The visit-count cell of the context at vectors[offset..offset + dim): a hashed grid cell. */
  private cellOf(vectors: Float32Array, offset: number): number {
    const dim = this.store.contextDim;
    let hash = 0x811c9dc5;
    for (let i = 0; i < dim; i++) {
      const c = Math.floor(vectors[offset + i]! * this.inverseCell) | 0;
      hash = Math.imul(hash ^ c, 0x01000193);
      hash ^= hash >>> 15;
    }
    return Math.imul(hash, 0x9e3779b1) >>> (32 - VISIT_CELL_BITS);
  }

  /** Backs up the episode's recent experiences newest first, so a reward travels back quickly. */
  private backupRecent(): void {
    const length = this.recent.length;
    const store = this.store;
    for (let r = 1; r <= this.recentCount; r++) {
      const position = (this.recentHead - r + length) % length;
      const slot = this.recent[position]!;
      if (store.alive[slot] === 1 && store.generation[slot] === this.recentGeneration[position]) this.backup(slot);
    }
  }

  private evictOne(): number {
    const victim = this.evictor.evictOne(this.counters.steps, this.effectiveCap, this.lastStoredSlot);
    if (victim !== NO_SLOT) this.counters.evictions++;
    return victim;
  }

  private refreshLookupPath(): void {
    const path = this.index.activePath();
    this.lookupPath = path.startsWith('hnsw')
      ? LookupPath.hnsw
      : path.startsWith('tensor')
        ? LookupPath.tensor
        : LookupPath.linear;
  }
}
