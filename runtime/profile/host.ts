/** The machine a profile ran on: CPU, cores, memory, OS, Node, and GPUs if any (systeminformation). */
import os from 'node:os';
import si from 'systeminformation';

export interface GpuDescription {
  vendor: string;
  model: string;
  /** MiB, null when unknown */
  vramMiB: number | null;
}

export interface HostDescription {
  hostname: string;
  cpuModel: string;
  /** logical cores */
  cores: number;
  physicalCores: number;
  cpuSpeedGHz: number | null;
  memoryBytes: number;
  os: string;
  kernel: string;
  arch: string;
  node: string;
  v8: string;
  gpus: GpuDescription[];
}

/** Reads the host; falls back to node:os for anything systeminformation cannot tell. */
export async function describeHost(): Promise<HostDescription> {
  const cpus = os.cpus();
  const [cpu, osInfo, graphics] = await Promise.all([
    si.cpu().catch(() => undefined),
    si.osInfo().catch(() => undefined),
    si.graphics().catch(() => undefined),
  ]);
  const brand = cpu ? `${cpu.manufacturer} ${cpu.brand}`.trim() : '';
  return {
    hostname: os.hostname(),
    cpuModel: brand || cpus[0]?.model.trim() || 'unknown',
    cores: cpu?.cores || cpus.length,
    physicalCores: cpu?.physicalCores || cpus.length,
    cpuSpeedGHz: cpu?.speed ? cpu.speed : null,
    memoryBytes: os.totalmem(),
    os: osInfo ? `${osInfo.distro} ${osInfo.release}`.trim() : `${os.type()} ${os.release()}`,
    kernel: osInfo?.kernel ?? os.release(),
    arch: os.arch(),
    node: process.version,
    v8: process.versions.v8,
    gpus: (graphics?.controllers ?? []).map((gpu) => ({
      vendor: gpu.vendor ?? '',
      model: gpu.model ?? '',
      vramMiB: typeof gpu.vram === 'number' ? gpu.vram : null,
    })),
  };
}

export function hostLine(host: HostDescription): string {
  const gpus =
    host.gpus.length === 0 ? 'no GPU' : host.gpus.map((gpu) => `${gpu.vendor} ${gpu.model}`.trim()).join(', ');
  return `${host.cpuModel}, ${host.cores} cores, ${(host.memoryBytes / 2 ** 30).toFixed(1)} GiB, ${gpus}, ${host.os}, Node ${host.node}`;
}
