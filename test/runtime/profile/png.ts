/**
 * A tiny PNG reader for screenshots: 8-bit RGB or RGBA, non-interlaced (what Chromium writes).
 * Returns RGBA pixels so tests can look at regions of a page.
 */
import { inflateSync } from 'node:zlib';

export interface Image {
  width: number;
  height: number;
  /** RGBA, row-major */
  pixels: Uint8Array;
}

const signature = [137, 80, 78, 71, 13, 10, 26, 10];

export function decodePng(file: Uint8Array): Image {
  for (let i = 0; i < 8; i++) if (file[i] !== signature[i]) throw new Error('not a PNG file');
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
  let offset = 8;
  let width = 0;
  let height = 0;
  let colorType = -1;
  const idat: Uint8Array[] = [];
  while (offset < file.length) {
    const length = view.getUint32(offset);
    const type = String.fromCharCode(...file.subarray(offset + 4, offset + 8));
    const data = file.subarray(offset + 8, offset + 8 + length);
    if (type === 'IHDR') {
      width = view.getUint32(offset + 8);
      height = view.getUint32(offset + 12);
      const bitDepth = data[8];
      colorType = data[9]!;
      const interlace = data[12];
      if (bitDepth !== 8 || (colorType !== 2 && colorType !== 6) || interlace !== 0) {
        throw new Error(`unsupported PNG: bit depth ${bitDepth}, colour type ${colorType}, interlace ${interlace}`);
      }
    } else if (type === 'IDAT') {
      idat.push(data);
    } else if (type === 'IEND') {
      break;
    }
    offset += 12 + length;
  }
  const channels = colorType === 6 ? 4 : 3;
  const stride = width * channels;
  const raw = inflateSync(Buffer.concat(idat));
  if (raw.length !== (stride + 1) * height)
    throw new Error(`PNG data is ${raw.length} bytes, expected ${(stride + 1) * height}`);
  const rows = new Uint8Array(stride * height);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)]!;
    const src = y * (stride + 1) + 1;
    const dst = y * stride;
    for (let x = 0; x < stride; x++) {
      const left = x >= channels ? rows[dst + x - channels]! : 0;
      const up = y > 0 ? rows[dst - stride + x]! : 0;
      const upLeft = x >= channels && y > 0 ? rows[dst - stride + x - channels]! : 0;
      let predictor = 0;
      if (filter === 1) predictor = left;
      else if (filter === 2) predictor = up;
      else if (filter === 3) predictor = (left + up) >> 1;
      else if (filter === 4) {
        const p = left + up - upLeft;
        const pa = Math.abs(p - left);
        const pb = Math.abs(p - up);
        const pc = Math.abs(p - upLeft);
        predictor = pa <= pb && pa <= pc ? left : pb <= pc ? up : upLeft;
      } else if (filter !== 0) throw new Error(`bad PNG filter ${filter} on row ${y}`);
      rows[dst + x] = (raw[src + x]! + predictor) & 0xff;
    }
  }
  const pixels = new Uint8Array(width * height * 4);
  for (let i = 0, j = 0; i < width * height; i++, j += channels) {
    pixels[i * 4] = rows[j]!;
    pixels[i * 4 + 1] = rows[j + 1]!;
    pixels[i * 4 + 2] = rows[j + 2]!;
    pixels[i * 4 + 3] = channels === 4 ? rows[j + 3]! : 255;
  }
  return { width, height, pixels };
}

export interface RegionStats {
  /** fraction of pixels that are not (near) white */
  inkFraction: number;
  /** distinct colours, quantised to 4 bits per channel */
  colours: number;
}

/** Looks at a rectangle of the image (clipped to it). */
export function regionStats(image: Image, x: number, y: number, width: number, height: number): RegionStats {
  const x0 = Math.max(0, Math.floor(x));
  const y0 = Math.max(0, Math.floor(y));
  const x1 = Math.min(image.width, Math.ceil(x + width));
  const y1 = Math.min(image.height, Math.ceil(y + height));
  let ink = 0;
  let total = 0;
  const colours = new Set<number>();
  for (let row = y0; row < y1; row++) {
    for (let col = x0; col < x1; col++) {
      const p = (row * image.width + col) * 4;
      const r = image.pixels[p]!;
      const g = image.pixels[p + 1]!;
      const b = image.pixels[p + 2]!;
      total++;
      if (r < 235 || g < 235 || b < 235) ink++;
      colours.add(((r >> 4) << 8) | ((g >> 4) << 4) | (b >> 4));
    }
  }
  return { inkFraction: total ? ink / total : 0, colours: colours.size };
}
