/**
 * The one file that talks to mujoco-js (the official MuJoCo WebAssembly build). It loads the WASM
 * module once per process, copies a model's folder into MuJoCo's virtual file system (so relative
 * <include> files and meshes resolve) and wraps one model with its data as `Physics`.
 *
 * mujoco-js returns a new typed-array view on every property read (`data.qpos !== data.qpos`), and
 * a view dies when the WASM memory grows (loading another model can do that). `Physics` keeps one
 * view per array and rebuilds them all when they have died, so reading `physics.qpos` in a step
 * allocates nothing. Do not keep these arrays across calls: read them from `physics` each time.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import loadMujoco, { type MainModule, type MjData, type MjModel } from 'mujoco-js';

let modulePromise: Promise<MainModule> | undefined;

/** The MuJoCo WASM module, loaded on first use and shared by every Physics in the process. */
export function mujocoModule(): Promise<MainModule> {
  modulePromise ??= loadMujoco();
  return modulePromise;
}

/** Largest model folder copied into the virtual file system (meshes included). */
const maxModelFolderBytes = 64 * 2 ** 20;
let loadedModels = 0;

/** Copies `from` (recursively, skipping dot-files and node_modules) into the WASM file system. */
function copyFolder(mujoco: MainModule, from: string, to: string, budget: { bytes: number }): void {
  mujoco.FS.mkdir(to);
  for (const entry of readdirSync(from)) {
    if (entry.startsWith('.') || entry === 'node_modules') continue;
    const source = join(from, entry);
    const target = `${to}/${entry}`;
    const stat = statSync(source);
    if (stat.isDirectory()) {
      copyFolder(mujoco, source, target, budget);
    } else if (stat.isFile()) {
      budget.bytes -= stat.size;
      if (budget.bytes < 0) {
        throw new Error(
          `model folder ${from} holds more than ${maxModelFolderBytes >> 20} MiB: keep the MJCF in a folder of its own`,
        );
      }
      mujoco.FS.writeFile(target, readFileSync(source));
    }
  }
}

/** MuJoCo joint types (mjtJoint). */
export const JointType = { free: 0, ball: 1, slide: 2, hinge: 3 } as const;

/** MuJoCo object types used for name lookups (mjtObj). */
const ObjectType = { body: 1, joint: 3, geom: 5, site: 6, actuator: 19 } as const;

interface Views {
  qpos: Float64Array;
  qvel: Float64Array;
  ctrl: Float64Array;
  xpos: Float64Array;
  xmat: Float64Array;
  geomXpos: Float64Array;
  siteXpos: Float64Array;
  modelGeomPos: Float64Array;
  modelGeomSize: Float64Array;
  modelBodyPos: Float64Array;
}

/** One MuJoCo model and its data. */
export class Physics {
  readonly nq: number;
  readonly nv: number;
  readonly nu: number;
  readonly njnt: number;
  /** physics timestep from the model's <option timestep> (s) */
  readonly timestep: number;
  /** the model file this was loaded from */
  readonly modelFile: string;
  private views: Views;

  private constructor(
    private readonly mujoco: MainModule,
    private readonly model: MjModel,
    private readonly data: MjData,
    modelFile: string,
  ) {
    this.modelFile = modelFile;
    this.nq = model.nq;
    this.nv = model.nv;
    this.nu = model.nu;
    this.njnt = model.njnt;
    this.timestep = model.opt.timestep;
    this.views = this.makeViews();
  }

  /** Loads an MJCF file (with its folder, for includes and meshes). Throws with MuJoCo's message. */
  static async load(modelFile: string): Promise<Physics> {
    const mujoco = await mujocoModule();
    const path = resolve(modelFile);
    let stat: ReturnType<typeof statSync>;
    try {
      stat = statSync(path);
    } catch {
      throw new Error(`MJCF model file not found: ${path}`);
    }
    if (!stat.isFile()) throw new Error(`MJCF model path is not a file: ${path}`);
    loadedModels += 1;
    const folder = `/engram-model-${loadedModels}`;
    copyFolder(mujoco, dirname(path), folder, { bytes: maxModelFolderBytes });
    let model: MjModel;
    try {
      model = mujoco.MjModel.loadFromXML(`${folder}/${basename(path)}`);
    } catch (error) {
      throw new Error(`MuJoCo could not load ${path}: ${describeWasmError(mujoco, error)}`);
    }
    if (!model) throw new Error(`MuJoCo could not load ${path}`);
    const data = new mujoco.MjData(model);
    const physics = new Physics(mujoco, model, data, path);
    physics.forward();
    return physics;
  }

  private makeViews(): Views {
    const { model, data } = this;
    return {
      qpos: data.qpos,
      qvel: data.qvel,
      ctrl: data.ctrl,
      xpos: data.xpos,
      xmat: data.xmat,
      geomXpos: data.geom_xpos,
      siteXpos: data.site_xpos,
      modelGeomPos: model.geom_pos,
      modelGeomSize: model.geom_size,
      modelBodyPos: model.body_pos,
    };
  }

  /** The views, rebuilt when WASM memory growth detached them (xpos always holds the world body). */
  private live(): Views {
    if (this.views.xpos.length === 0) this.views = this.makeViews();
    return this.views;
  }

  /** joint positions (data.qpos), writable */
  get qpos(): Float64Array {
    return this.live().qpos;
  }
  /** joint velocities (data.qvel), writable */
  get qvel(): Float64Array {
    return this.live().qvel;
  }
  /** actuator controls (data.ctrl), writable */
  get ctrl(): Float64Array {
    return this.live().ctrl;
  }
  /** body positions, 3 per body (data.xpos) */
  get xpos(): Float64Array {
    return this.live().xpos;
  }
  /** body orientations, 9 per body, row-major: xx xy xz yx yy yz zx zy zz (data.xmat) */
  get xmat(): Float64Array {
    return this.live().xmat;
  }
  /** geom positions in the world, 3 per geom (data.geom_xpos) */
  get geomXpos(): Float64Array {
    return this.live().geomXpos;
  }
  /** site positions in the world, 3 per site (data.site_xpos) */
  get siteXpos(): Float64Array {
    return this.live().siteXpos;
  }
  /** geom positions in their body's frame (model.geom_pos), writable: e.g. moving a target */
  get modelGeomPos(): Float64Array {
    return this.live().modelGeomPos;
  }
  /** geom sizes, 3 per geom (model.geom_size), writable */
  get modelGeomSize(): Float64Array {
    return this.live().modelGeomSize;
  }
  /** body positions in their parent's frame (model.body_pos), writable */
  get modelBodyPos(): Float64Array {
    return this.live().modelBodyPos;
  }

  /** Restores the model's default state (mj_resetData): qpos0, zero velocities, zero controls. */
  reset(): void {
    this.mujoco.mj_resetData(this.model, this.data);
  }

  /** Recomputes every derived quantity (mj_forward): call after writing qpos/qvel by hand. */
  forward(): void {
    this.mujoco.mj_forward(this.model, this.data);
  }

  /**
   * Advances `substeps` physics steps with the current controls, then brings position- and
   * velocity-derived quantities (xpos, xmat, geom_xpos, ...) up to date with the new state, as
   * dm_control does after each step (its legacy step ends with mj_step1).
   */
  step(substeps: number): void {
    const { mujoco, model, data } = this;
    for (let i = 0; i < substeps; i++) mujoco.mj_step(model, data);
    mujoco.mj_step1(model, data);
  }

  /** simulated time (s) */
  get time(): number {
    return this.data.time;
  }

  /** Index of a named object; throws naming the model when it is missing. Start-up only. */
  private id(type: number, kind: string, name: string): number {
    const id = this.mujoco.mj_name2id(this.model, type, name);
    if (id < 0) throw new Error(`${this.modelFile} has no ${kind} named '${name}'`);
    return id;
  }
  bodyId(name: string): number {
    return this.id(ObjectType.body, 'body', name);
  }
  geomId(name: string): number {
    return this.id(ObjectType.geom, 'geom', name);
  }
  siteId(name: string): number {
    return this.id(ObjectType.site, 'site', name);
  }
  jointId(name: string): number {
    return this.id(ObjectType.joint, 'joint', name);
  }
  actuatorId(name: string): number {
    return this.id(ObjectType.actuator, 'actuator', name);
  }

  /** Where a joint's first coordinate sits in qpos. */
  jointQposAddress(joint: number): number {
    return this.model.jnt_qposadr[joint] as number;
  }
  /** Where a joint's first degree of freedom sits in qvel. */
  jointDofAddress(joint: number): number {
    return this.model.jnt_dofadr[joint] as number;
  }
  jointType(joint: number): number {
    return this.model.jnt_type[joint] as number;
  }
  /** The joint's range when limited (radians for hinges), undefined when unlimited. */
  jointRange(joint: number): { low: number; high: number } | undefined {
    if (!(this.model.jnt_limited[joint] as number)) return undefined;
    const range = this.model.jnt_range as Float64Array;
    return { low: range[2 * joint] as number, high: range[2 * joint + 1] as number };
  }
  /** The actuator's control range when limited, undefined when unlimited. */
  controlRange(actuator: number): { low: number; high: number } | undefined {
    if (!(this.model.actuator_ctrllimited[actuator] as number)) return undefined;
    const range = this.model.actuator_ctrlrange as Float64Array;
    return { low: range[2 * actuator] as number, high: range[2 * actuator + 1] as number };
  }
  /** 0 Euler, 1 RK4, 2 implicit, 3 implicitfast (mjtIntegrator) */
  get integrator(): number {
    return this.model.opt.integrator as unknown as number;
  }

  /** Frees the WASM memory held by this model and its data. */
  dispose(): void {
    this.data.delete();
    this.model.delete();
  }
}

/** mujoco-js throws a WASM exception pointer for C++ errors; turn it into MuJoCo's message. */
function describeWasmError(mujoco: MainModule, error: unknown): string {
  const getMessage = (mujoco as unknown as { getExceptionMessage?: (e: unknown) => string[] }).getExceptionMessage;
  if (typeof error === 'object' && error !== null && 'excPtr' in error && typeof getMessage === 'function') {
    try {
      return getMessage(error).filter(Boolean).join(': ');
    } catch {
      // fall through to the plain description
    }
  }
  if (error instanceof Error) return error.message || error.name;
  return String(error);
}
