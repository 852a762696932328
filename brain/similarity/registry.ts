/**
 * The similarity registry: one SimilarityIndex face over the linear, HNSW and tensor paths.
 *
 * Habits from tfjs-core's backend registry: factories register with a priority, the best one that
 * initialises serves its path, and one that fails is skipped with one log line naming why. Routing
 * follows the active hardware profile (profile.ts): per call from the batch size B, and per cycle
 * from the dataset size N with hysteresis on the profile's band edges.
 *
 * Timing rules:
 * - the serving path changes only in atCycleBoundary(), and is logged once with its reason;
 * - a path that is wanted but not built yet is built incrementally in maintain(untilNs), in slack
 *   time, from the store's vectors, while the current path keeps serving;
 * - upsert/remove reach every built or building backend (a building one only below its cursor:
 *   the cursor picks up the rest), so whichever path serves, it sees the same memory.
 */
import type { Clock, EventLog, LookupPathCode } from '../../runtime/contracts.js';
import { LookupPath } from '../../runtime/contracts.js';
import type { similarityConfigSchema } from '../config.js';
import type { VectorSource } from '../memory/store.js';
import type { BackendFactory, SimilarityBackend, SimilarityIndex } from './backend.js';
import { HnswBackend, hnswFactory } from './hnsw.js';
import { LinearBackend } from './linear.js';
import type { PathName, Profile } from './profile.js';
import { pathNames, selectProfile } from './profile.js';
import { tensorFactories } from './tensor.js';

type SimilarityConfig = ReturnType<(typeof similarityConfigSchema)['parse']>;

const pathCodes: Record<PathName, LookupPathCode> = {
  linear: LookupPath.linear,
  hnsw: LookupPath.hnsw,
  tensor: LookupPath.tensor,
};

/** A path starts building when N reaches this fraction of the edge where it would take over. */
const buildAheadFraction = 0.5;

/** Not wanted yet: the backend receives no upserts and holds nothing. */
const notBuilding = -1;

interface PathSlot {
  readonly name: PathName;
  readonly code: LookupPathCode;
  readonly backend: SimilarityBackend;
  /** which factory created it (e.g. 'tensor-wasm') */
  readonly variant: string;
  /** notBuilding, or the next slot to copy in (0..capacity); capacity = built and in sync */
  cursor: number;
  /** smallest N at which this path may be needed (build ahead of it) */
  wantedFromN: number;
}

/** All factories this build knows, for every path (unavailable ones fail at create). */
export function defaultFactories(config: SimilarityConfig): BackendFactory[] {
  return [
    {
      name: 'linear',
      priority: 0,
      async create(source) {
        return new LinearBackend(source);
      },
    },
    // Deferred writes: HNSW updates cost up to milliseconds each, applied in slack time (hnsw.ts).
    hnswFactory({
      M: config.hnsw.M,
      efConstruction: config.hnsw.efConstruction,
      efSearch: config.hnsw.efSearch,
      deferWrites: true,
    }),
    ...tensorFactories(),
  ];
}

/**
 * Bytes per experience the registry's paths hold beyond the store, for the memory byte cap: the
 * per-slot flags, HNSW's graph and vector copy where the profile routes to HNSW, and the tensor
 * path's host mirror plus device copy (2 x (dim + 1) floats) where it routes to tensor.
 */
export function indexBytesPerExperience(profile: Profile, config: SimilarityConfig, dim: number): number {
  let usesHnsw = false;
  let usesTensor = false;
  for (const route of profile.routes) {
    for (const band of route.bands) {
      if (band.path === 'hnsw') usesHnsw = true;
      if (band.path === 'tensor') usesTensor = true;
    }
  }
  let bytes = 2; // registry + linear live flags
  if (usesHnsw) {
    const M = config.hnsw.M;
    const level0 = dim * 4 + 8 + (2 * M + 1) * 4; // vector, label, links
    const upper = ((M + 1) * 4 + 8) / Math.max(1, M - 1); // ~1/(M-1) of elements on upper levels
    // + per element in engram's hnswlib (native/hnsw/third_party/hnswlib/ENGRAM.md): upper-list pointer 8, level 4,
    // label table 4, visited mark 2, no-op lock 1; + the backend's state byte
    bytes += Math.ceil(level0 + upper + 19) + 1;
  }
  if (usesTensor) bytes += 2 * (dim + 1) * 4 + 2; // host mirror + device copy + flags
  return bytes;
}

export interface RegistryCounters {
  /** queries refused: wrong length or non-finite values */
  rejectedQueries: number;
  /** upserts refused: bad slot, wrong length or non-finite values */
  rejectedUpserts: number;
  /** serving-path switches since start */
  switches: number;
}

export class SimilarityRegistry implements SimilarityIndex {
  readonly name = 'registry';
  readonly dim: number;
  readonly capacity: number;
  readonly counters: RegistryCounters = { rejectedQueries: 0, rejectedUpserts: 0, switches: 0 };

  private readonly linear: PathSlot;
  /** linear first, then the other available paths */
  private readonly paths: PathSlot[];
  /** per profile route: the band chosen with hysteresis, and the path serving it */
  private readonly bandIndex: Int32Array;
  private readonly serving: PathSlot[];
  /** per route: a wanted path that is unavailable here, already logged */
  private readonly fallbackLogged: Uint8Array;
  /** slots upserted and not removed (the registry's own view: the store may run ahead of it) */
  private readonly indexed: Uint8Array;
  private lastCode: LookupPathCode = LookupPath.none;
  /** smallest N at which some not-yet-building path becomes wanted */
  private nextBuildN = Number.POSITIVE_INFINITY;
  /** units the next maintain must do (replay), or -1: as time allows */
  private slackQuota = -1;
  /** clockPast's reading */
  private readonly now = new Float64Array(1);

  /**
   * The usual way in: selects the profile named by `config.profile` ('auto' = match the host,
   * logged with its reason) from `profilesDir` (default profiles/), then creates the registry.
   */
  static async fromConfig(
    source: VectorSource,
    config: SimilarityConfig,
    log: EventLog,
    clock: Clock,
    profilesDir?: string,
  ): Promise<SimilarityRegistry> {
    const profile = selectProfile(config.profile, log, profilesDir === undefined ? {} : { dir: profilesDir });
    return SimilarityRegistry.create(source, config, profile, log, clock);
  }

  /**
   * Creates every path's best available backend (logging each one skipped, and why) and picks the
   * initial routes for the store's current size. Paths that are not needed yet are built later.
   */
  static async create(
    source: VectorSource,
    config: SimilarityConfig,
    profile: Profile,
    log: EventLog,
    clock: Clock,
    factories: BackendFactory[] = defaultFactories(config),
  ): Promise<SimilarityRegistry> {
    const created = new Map<PathName, { backend: SimilarityBackend; variant: string }>();
    const ordered = [...factories].sort((a, b) => b.priority - a.priority);
    // Paths the profile never routes to are not created (no tfjs or Dawn load for a CPU profile).
    const used = new Set<string>(['linear']);
    for (const route of profile.routes) for (const band of route.bands) used.add(band.path);
    for (const factory of ordered) {
      const path = (factory.path ?? factory.name) as PathName;
      if (!pathNames.includes(path))
        throw new Error(`similarity factory '${factory.name}' serves unknown path '${path}'`);
      if (created.has(path) || !used.has(path)) continue;
      let result: SimilarityBackend | Error;
      try {
        result = await factory.create(source);
      } catch (error) {
        result = error instanceof Error ? error : new Error(String(error));
      }
      if (result instanceof Error) {
        log.warn({ path, factory: factory.name, why: result.message }, 'similarity backend unavailable, skipped');
        continue;
      }
      created.set(path, { backend: result, variant: factory.name });
      log.info(
        { path, factory: factory.name, device: result.describe?.() ?? factory.name },
        'similarity backend ready',
      );
    }
    if (!created.has('linear')) created.set('linear', { backend: new LinearBackend(source), variant: 'linear' });
    return new SimilarityRegistry(source, profile, log, clock, created);
  }

  private constructor(
    private readonly source: VectorSource,
    private readonly profile: Profile,
    private readonly log: EventLog,
    private readonly clock: Clock,
    created: Map<PathName, { backend: SimilarityBackend; variant: string }>,
  ) {
    this.dim = source.dim;
    this.capacity = source.capacity;
    this.indexed = new Uint8Array(source.capacity);
    this.paths = [];
    for (const name of pathNames) {
      const entry = created.get(name);
      if (!entry) continue;
      this.paths.push({
        name,
        code: pathCodes[name],
        backend: entry.backend,
        variant: entry.variant,
        cursor: name === 'linear' ? source.capacity : notBuilding,
        wantedFromN: name === 'linear' ? 0 : Number.POSITIVE_INFINITY,
      });
    }
    this.linear = this.paths[0]!;
    // Where each path could first take over, over all routes: build ahead of that.
    for (const route of profile.routes) {
      for (let b = 0; b < route.bands.length; b++) {
        const lowerEdge = b === 0 ? 0 : route.bands[b - 1]!.belowN!;
        const slot = this.slotFor(route.bands[b]!.path);
        if (slot) {
          const from = lowerEdge * (1 - profile.hysteresis) * buildAheadFraction;
          if (from < slot.wantedFromN) slot.wantedFromN = from;
        }
      }
    }
    this.bandIndex = new Int32Array(profile.routes.length);
    this.fallbackLogged = new Uint8Array(profile.routes.length);
    this.serving = [];
    const n = this.linear.backend.size();
    for (let r = 0; r < profile.routes.length; r++) {
      const bands = profile.routes[r]!.bands;
      let i = 0;
      while (i + 1 < bands.length && n >= bands[i]!.belowN!) i++;
      this.bandIndex[r] = i;
      this.serving.push(this.linear);
    }
    this.startWantedBuilds(n);
    this.atCycleBoundary();
  }

  size(): number {
    return this.linear.backend.size();
  }

  /** Name of the path serving single queries now ('linear' | 'hnsw' | 'tensor'). */
  activePath(): PathName {
    return this.serving[0]!.name;
  }

  /** Path code of the most recent lookup, for StepTimings.lookupPath. */
  lastPathCode(): LookupPathCode {
    return this.lastCode;
  }

  /** The path that would serve a batch of `batch` queries now. */
  pathFor(batch: number): PathName {
    return this.serving[this.routeFor(batch)]!.name;
  }

  /** Paths with a backend on this machine, and the factory variant serving each. */
  availablePaths(): { path: PathName; variant: string; built: boolean }[] {
    return this.paths.map((p) => ({ path: p.name, variant: p.variant, built: p.cursor === this.capacity }));
  }

  /** The backend serving `path` (tests and benchmarks compare paths directly), if available. */
  backendFor(path: PathName): SimilarityBackend | undefined {
    return this.slotFor(path)?.backend;
  }

  upsert(slot: number, vector: Float32Array): void {
    if (!Number.isInteger(slot) || slot < 0 || slot >= this.capacity || vector.length < this.dim) {
      this.counters.rejectedUpserts++;
      return;
    }
    for (let i = 0; i < this.dim; i++) {
      if (!Number.isFinite(vector[i]!)) {
        this.counters.rejectedUpserts++;
        return;
      }
    }
    this.linear.backend.upsert(slot, vector);
    this.indexed[slot] = 1;
    const paths = this.paths;
    for (let p = 1; p < paths.length; p++) {
      const path = paths[p]!;
      if (slot < path.cursor) path.backend.upsert(slot, vector);
    }
  }

  remove(slot: number): void {
    if (!Number.isInteger(slot) || slot < 0 || slot >= this.capacity || this.indexed[slot] === 0) return;
    this.indexed[slot] = 0;
    const paths = this.paths;
    for (let p = 0; p < paths.length; p++) {
      const path = paths[p]!;
      if (slot < path.cursor) path.backend.remove(slot);
    }
  }

  search(query: Float32Array, k: number, outSlots: Int32Array, outDist: Float32Array): number {
    if (!this.validQueries(query, 1)) return 0;
    const path = this.serving[0]!;
    this.lastCode = path.code;
    return path.backend.search(query, k, outSlots, outDist);
  }

  searchBatch(
    queries: Float32Array,
    batch: number,
    k: number,
    outSlots: Int32Array,
    outDist: Float32Array,
    outCounts: Int32Array,
  ): void {
    if (!Number.isInteger(batch) || batch <= 0 || outCounts.length < batch) {
      this.counters.rejectedQueries++;
      return;
    }
    if (!this.validQueries(queries, batch) || outSlots.length < batch * k || outDist.length < batch * k) {
      outCounts.fill(0, 0, batch);
      return;
    }
    const path = this.serving[this.routeFor(batch)]!;
    this.lastCode = path.code;
    path.backend.searchBatch(queries, batch, k, outSlots, outDist, outCounts);
  }

  setEffort(ef: number): void {
    for (let p = 0; p < this.paths.length; p++) this.paths[p]!.backend.setEffort(ef);
  }

  /**
   * Re-decides each route's band from N with hysteresis and switches to the wanted path if it is
   * built. Cheap and allocation-free unless a switch happens (then it logs once).
   */
  atCycleBoundary(): void {
    const n = this.linear.backend.size();
    const routes = this.profile.routes;
    const h = this.profile.hysteresis;
    let startBuilds = false;
    for (let r = 0; r < routes.length; r++) {
      const bands = routes[r]!.bands;
      let i = this.bandIndex[r]!;
      while (i + 1 < bands.length && n >= bands[i]!.belowN! * (1 + h)) i++;
      while (i > 0 && n < bands[i - 1]!.belowN! * (1 - h)) i--;
      this.bandIndex[r] = i;
      const wanted = this.resolve(r, bands[i]!.path);
      const current = this.serving[r]!;
      if (wanted === current) continue;
      if (wanted.cursor === this.capacity && (wanted.backend.isSynced?.() ?? true)) {
        this.serving[r] = wanted;
        this.counters.switches++;
        this.log.info(
          {
            minBatch: routes[r]!.minBatch,
            from: current.name,
            to: wanted.name,
            variant: wanted.variant,
            n,
            reason: this.reason(r, i, n),
          },
          'similarity path switched',
        );
      } else if (wanted.cursor === notBuilding) {
        startBuilds = true;
      }
    }
    if (startBuilds || n >= this.nextBuildN) this.startWantedBuilds(n);
  }

  /** Whether the clock has passed `untilNs` (read through stampNs: a returned double is boxed where not inlined). */
  private clockPast(untilNs: number): boolean {
    this.clock.stampNs(this.now, 0);
    return this.now[0]! >= untilNs;
  }

  /**
   * Slack-time work, returning by `untilNs`: builds pending paths from the store's vectors (one
   * insert at a time, checking the clock between inserts), then lets backends do their own work
   * (the tensor path uploads changed rows).
   */
  maintain(untilNs: number): number {
    const quota = this.slackQuota;
    this.slackQuota = -1;
    // One unit of work is one insert into a building path or one unit of a backend's own maintain.
    // Done in a fixed order, so a replay that repeats the recorded count repeats the same work.
    const byQuota = quota >= 0;
    let work = 0;
    if (this.linear.backend.size() >= this.nextBuildN) this.startWantedBuilds(this.linear.backend.size());
    const paths = this.paths;
    const dim = this.dim;
    const vectors = this.source.vectors;
    const indexed = this.indexed;
    for (let p = 1; p < paths.length; p++) {
      const path = paths[p]!;
      if (path.cursor === notBuilding || path.cursor === this.capacity) continue;
      let slot = path.cursor;
      while (slot < this.capacity) {
        if (indexed[slot] === 1) {
          if (byQuota ? work >= quota : this.clockPast(untilNs)) break;
          path.backend.upsert(slot, vectors.subarray(slot * dim, slot * dim + dim));
          work++;
        }
        slot++;
      }
      path.cursor = slot;
      if (slot === this.capacity) {
        this.log.info(
          { path: path.name, variant: path.variant, size: path.backend.size() },
          'similarity path built, ready to serve',
        );
      }
    }
    for (let p = 0; p < paths.length; p++) {
      const backend = paths[p]!.backend;
      if (backend.maintain !== undefined) {
        if (byQuota ? work >= quota : this.clockPast(untilNs)) return work;
        work += backend.maintain(untilNs, this.clock, byQuota ? quota - work : -1);
      }
    }
    return work;
  }

  /** Replay: the next maintain does exactly `units` units of work (see SimilarityIndex). */
  setSlackQuota(units: number): void {
    this.slackQuota = units;
  }

  writesHeld(): boolean {
    const paths = this.paths;
    for (let p = 0; p < paths.length; p++) if (paths[p]!.backend.writesHeld?.() === true) return true;
    return false;
  }

  holdWritesForReplay(held: boolean): void {
    for (const path of this.paths) path.backend.holdWritesForReplay?.(held);
  }

  dispose(): void {
    for (const path of this.paths) path.backend.dispose();
  }

  /**
   * Snapshot support: the HNSW backend when this registry has one, and whether it is built (holds,
   * or has queued, every upsert: only then is its index worth saving).
   */
  hnswForSnapshot(): { backend: HnswBackend; built: boolean } | undefined {
    const slot = this.slotFor('hnsw');
    if (!slot || !(slot.backend instanceof HnswBackend)) return undefined;
    return { backend: slot.backend, built: slot.cursor === this.capacity };
  }

  /**
   * After a restore loaded `path`'s index from a snapshot (reconciled with the restored store):
   * it is built, no slack-time build is needed. Call after the other paths were re-filled.
   */
  adoptRestored(path: PathName): void {
    const slot = this.slotFor(path);
    if (!slot) return;
    slot.cursor = this.capacity;
    this.log.info({ path, size: slot.backend.size() }, 'similarity path restored from the snapshot, ready to serve');
  }

  private startWantedBuilds(n: number): void {
    let next = Number.POSITIVE_INFINITY;
    for (const path of this.paths) {
      if (path.cursor !== notBuilding) continue;
      if (n >= path.wantedFromN) {
        path.cursor = 0;
        this.log.info(
          { path: path.name, variant: path.variant, n, wantedFromN: Math.round(path.wantedFromN) },
          'similarity path build started (slack time)',
        );
      } else if (path.wantedFromN < next) {
        next = path.wantedFromN;
      }
    }
    this.nextBuildN = next;
  }

  private routeFor(batch: number): number {
    const routes = this.profile.routes;
    let r = 0;
    while (r + 1 < routes.length && batch >= routes[r + 1]!.minBatch) r++;
    return r;
  }

  private slotFor(name: PathName): PathSlot | undefined {
    for (const path of this.paths) if (path.name === name) return path;
    return undefined;
  }

  /** The slot serving `name` here, or the fallback when that path is unavailable on this machine. */
  private resolve(route: number, name: PathName): PathSlot {
    const paths = this.paths;
    for (let p = 0; p < paths.length; p++) if (paths[p]!.name === name) return paths[p]!;
    // Unavailable: serve as single queries would (linear or hnsw); linear is always there.
    let fallback = this.linear;
    if (route > 0) {
      const single = this.profile.routes[0]!.bands[this.bandIndex[0]!]!.path;
      for (let p = 0; p < paths.length; p++) if (paths[p]!.name === single) fallback = paths[p]!;
    }
    if (this.fallbackLogged[route] === 0) {
      this.fallbackLogged[route] = 1;
      this.log.warn(
        { minBatch: this.profile.routes[route]!.minBatch, wanted: name, serving: fallback.name },
        'similarity path in the profile is unavailable here; falling back',
      );
    }
    return fallback;
  }

  private reason(route: number, band: number, n: number): string {
    const bands = this.profile.routes[route]!.bands;
    const h = this.profile.hysteresis;
    const lower = band > 0 ? bands[band - 1]!.belowN! : 0;
    const upper = bands[band]!.belowN;
    const range = upper === undefined ? `N >= ${lower}` : `${lower} <= N < ${upper}`;
    return `profile '${this.profile.name}' routes batches >= ${this.profile.routes[route]!.minBatch} with ${range} to ${bands[band]!.path}; N = ${n} (hysteresis ${h})`;
  }

  private validQueries(queries: Float32Array, batch: number): boolean {
    const length = batch * this.dim;
    if (queries.length < length) {
      this.counters.rejectedQueries++;
      return false;
    }
    for (let i = 0; i < length; i++) {
      if (!Number.isFinite(queries[i]!)) {
        this.counters.rejectedQueries++;
        return false;
      }
    }
    return true;
  }
}
