/**
 * Seeded random numbers for the brain (never Math.random): the same seed and the same inputs give
 * the same actions, which replay tests rely on. sfc32 (small, fast, passes PractRand) on 32-bit
 * integer ops.
 *
 * State lives in a Uint32Array, not in object fields: uint32 values above 2^30 are not small
 * integers in V8, and keeping them in fields boxed a heap number per draw (measured ~12 bytes per
 * draw), which the zero-allocation step cannot afford.
 */
export class Rng {
  /** a, b, c, d of sfc32 */
  private readonly state = new Uint32Array(4);
  /** Box-Muller yields normals in pairs; the second waits in spare[0] */
  private readonly spare = new Float64Array(1);
  private hasSpare = false;
  /** normal()'s result on its way out */
  private readonly drawn = new Float64Array(1);
  /** the last uniform draw (advance) */
  private readonly uniformDraw = new Float64Array(1);

  constructor(seed: number) {
    // splitmix32 spreads a small integer seed over the whole state.
    let s = seed >>> 0;
    for (let i = 0; i < 4; i++) {
      s = (s + 0x9e3779b9) >>> 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      this.state[i] = (z ^ (z >>> 16)) >>> 0;
    }
    for (let i = 0; i < 12; i++) this.advance();
  }

  /** Values in one saved state: the four sfc32 words, the spare normal and whether it waits. */
  static readonly stateLength = 6;

  /** Writes the generator's state into `out` at `offset` (snapshots: a restore continues the stream). */
  saveState(out: Float64Array, offset: number): void {
    for (let i = 0; i < 4; i++) out[offset + i] = this.state[i]!;
    out[offset + 4] = this.spare[0]!;
    out[offset + 5] = this.hasSpare ? 1 : 0;
  }

  /** Restores a state written by saveState: the next draws are those the saved generator would make. */
  restoreState(from: Float64Array, offset: number): void {
    for (let i = 0; i < 4; i++) this.state[i] = from[offset + i]! >>> 0;
    this.spare[0] = from[offset + 4]!;
    this.hasSpare = from[offset + 5] === 1;
  }

  /**
   * Advances sfc32 and leaves a uniform draw in [0, 1) in this.uniformDraw[0]. Returns nothing: a
   * double returned from a call V8 does not inline is boxed (16 B), and whether it inlines varies
   * from run to run (bench brain's allocation sites named uniform() in some runs, ~60 B per step
   * from normalInto's draws). Every draw of this class goes through here and reads the array.
   */
  private advance(): void {
    const state = this.state;
    const a = state[0]!;
    const b = state[1]!;
    const c = state[2]!;
    const d = state[3]!;
    const t = (((a + b) | 0) + d) | 0;
    state[3] = (d + 1) | 0;
    state[0] = b ^ (b >>> 9);
    state[1] = (c + (c << 3)) | 0;
    state[2] = (((c << 21) | (c >>> 11)) + t) | 0;
    this.uniformDraw[0] = (t >>> 0) / 4294967296;
  }

  /** uniform in [0, 1) (off the hot path: see uniformInto) */
  uniform(): number {
    this.advance();
    return this.uniformDraw[0]!;
  }

  /** out[index] = a uniform draw in [0, 1): the hot path's form (see advance). */
  uniformInto(out: Float64Array, index: number): void {
    this.advance();
    out[index] = this.uniformDraw[0]!;
  }

  /** uniform in [low, high) */
  range(low: number, high: number): number {
    this.advance();
    return low + (high - low) * this.uniformDraw[0]!;
  }

  /** integer uniform in [0, n), n < 2^30 (a small integer: returned unboxed) */
  below(n: number): number {
    this.advance();
    return Math.floor(this.uniformDraw[0]! * n) | 0;
  }

  /** standard normal (Box-Muller) */
  normal(): number {
    this.normalInto(this.drawn, 0);
    return this.drawn[0]!;
  }

  /**
   * A standard normal into out[index]. The hot path's form: a double returned from a call V8 does
   * not inline is boxed (16 B per draw, measured in the planner), a typed-array store is not.
   */
  normalInto(out: Float64Array, index: number): void {
    if (this.hasSpare) {
      this.hasSpare = false;
      out[index] = this.spare[0]!;
      return;
    }
    this.advance();
    let u = this.uniformDraw[0]!;
    if (u < 1e-12) u = 1e-12;
    this.advance();
    const v = this.uniformDraw[0]!;
    const radius = Math.sqrt(-2 * Math.log(u));
    this.spare[0] = radius * Math.sin(2 * Math.PI * v);
    this.hasSpare = true;
    out[index] = radius * Math.cos(2 * Math.PI * v);
  }
}
