/**
 * Realistic context vectors for calibration, benchmarks and tests: trajectories of a smooth
 * dynamical system (a Lorenz attractor driving a slow pendulum, 5 latent dimensions) embedded in
 * d dimensions through a fixed random map with a mild nonlinearity and a little noise. Robot
 * sensor streams look like this: low intrinsic dimension, consecutive moments close together.
 * iid Gaussian vectors are the worst case for HNSW (MEASUREMENTS.md: recall 0.12 at 1e6) and say
 * nothing about the brain's own data, so calibration does not use them.
 *
 * Deterministic: the same (seed, n, dim) gives the same vectors.
 */

/** mulberry32: a tiny seeded PRNG (uniform in [0, 1)). */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const latentDim = 5;

/**
 * `n` vectors of length `dim`, back to back. `mapSeed` fixes the embedding (use the same one for
 * a memory and its queries); `seed` fixes the trajectories (use another one for queries).
 */
export function trajectoryVectors(n: number, dim: number, seed: number, mapSeed = 7): Float32Array {
  const mapRandom = seededRandom(mapSeed * 7919 + dim);
  const embedding = new Float64Array(dim * latentDim);
  for (let i = 0; i < embedding.length; i++) embedding[i] = (mapRandom() * 2 - 1) / Math.sqrt(latentDim);
  const random = seededRandom(seed);
  const out = new Float32Array(n * dim);
  const latent = new Float64Array(latentDim);
  const episodeLength = 200;
  let x = 0;
  let y = 0;
  let z = 0;
  let angle = 0;
  let velocity = 0;
  for (let row = 0; row < n; row++) {
    if (row % episodeLength === 0) {
      // a new episode starts somewhere on the attractor
      x = random() * 30 - 15;
      y = random() * 30 - 15;
      z = random() * 30 + 5;
      angle = random() * 6 - 3;
      velocity = random() * 2 - 1;
      for (let warm = 0; warm < 50; warm++) [x, y, z] = lorenzStep(x, y, z);
    }
    [x, y, z] = lorenzStep(x, y, z);
    // a damped pendulum pushed by the attractor's x
    velocity += 0.02 * (-Math.sin(angle) - 0.1 * velocity + 0.02 * x);
    angle += 0.02 * velocity;
    latent[0] = x / 10;
    latent[1] = y / 10;
    latent[2] = (z - 25) / 10;
    latent[3] = Math.sin(angle);
    latent[4] = velocity;
    const base = row * dim;
    for (let j = 0; j < dim; j++) {
      let sum = 0;
      for (let l = 0; l < latentDim; l++) sum += embedding[j * latentDim + l]! * latent[l]!;
      out[base + j] = Math.tanh(sum) + (random() - 0.5) * 0.01;
    }
  }
  return out;
}

function lorenzStep(x: number, y: number, z: number): [number, number, number] {
  const dt = 0.005;
  return [x + dt * 10 * (y - x), y + dt * (x * (28 - z) - y), z + dt * (x * y - (8 / 3) * z)];
}
