import { describe, expect, it } from 'vitest';
import {
  float16ArrayToFloat32,
  float16BitsToFloat32,
  float32ArrayToFloat16,
  float32ToFloat16Bits,
} from '../../../models/checkpoint/float16.js';

// [float32 input, expected binary16 bits]
const KNOWN: [number, number][] = [
  [0, 0x0000],
  [-0, 0x8000],
  [1, 0x3c00],
  [-2, 0xc000],
  [0.5, 0x3800],
  [65504, 0x7bff], // largest finite
  [65519.99, 0x7bff], // just below the rounding boundary
  [65520, 0x7c00], // tie between 65504 and 65536 (= overflow): to even -> Infinity
  [1e6, 0x7c00],
  [-1e6, 0xfc00],
  [Infinity, 0x7c00],
  [-Infinity, 0xfc00],
  [2 ** -14, 0x0400], // smallest normal
  [2 ** -24, 0x0001], // smallest subnormal
  [2 ** -25, 0x0000], // exactly half the smallest subnormal: tie to even -> 0
  [1.5 * 2 ** -25, 0x0001], // above half: rounds up
  [-(2 ** -25) * 1.0000001, 0x8001],
  [3 * 2 ** -25, 0x0002], // tie between 1 and 2 subnormal units: to even (2)
  [5 * 2 ** -25, 0x0002], // tie between 2 and 3: to even (2)
  [2 ** -26, 0x0000],
  [2 ** -14 - 2 ** -25, 0x0400], // rounds up from the largest subnormal into the smallest normal
  [0x3ff * 2 ** -24, 0x03ff], // largest subnormal
  [1e-45, 0x0000], // float32 denormal
  [0.1, 0x2e66],
  [1 / 3, 0x3555],
  [Math.PI, 0x4248],
  [1 + 2 ** -11, 0x3c00], // tie: to even (down)
  [1 + 3 * 2 ** -11, 0x3c02], // tie: to even (up)
  [1 + 2 ** -11 + 2 ** -20, 0x3c01], // above the tie
  [2048 + 1, 0x6800], // 2049: tie between 2048 and 2050 -> 2048
  [2048 + 3, 0x6802], // 2051: tie -> 2052
];

describe('float16 conversion', () => {
  it('float32 -> float16 bits on known values (round to nearest even, subnormals, overflow)', () => {
    for (const [x, bits] of KNOWN) {
      expect(float32ToFloat16Bits(x).toString(16), `${x}`).toBe(bits.toString(16));
    }
  });

  it('NaN stays NaN (quiet), with its sign', () => {
    const h = float32ToFloat16Bits(NaN);
    expect(h & 0x7c00).toBe(0x7c00);
    expect(h & 0x3ff).not.toBe(0);
    const f = new Float32Array(1);
    new Uint32Array(f.buffer)[0] = 0xff800001; // negative signalling NaN with the lowest payload bit
    const hn = float32ArrayToFloat16(f)[0]!;
    expect(hn & 0xfc00).toBe(0xfc00);
    expect(hn & 0x3ff).not.toBe(0); // not turned into -Infinity
    expect(Number.isNaN(float16BitsToFloat32(hn))).toBe(true);
  });

  it('float16 bits -> float on known values', () => {
    expect(float16BitsToFloat32(0x3c00)).toBe(1);
    expect(float16BitsToFloat32(0x7bff)).toBe(65504);
    expect(float16BitsToFloat32(0x0001)).toBe(2 ** -24);
    expect(float16BitsToFloat32(0x03ff)).toBe(1023 * 2 ** -24);
    expect(float16BitsToFloat32(0x0400)).toBe(2 ** -14);
    expect(float16BitsToFloat32(0x2e66)).toBe(0.0999755859375);
    expect(float16BitsToFloat32(0xc000)).toBe(-2);
    expect(Object.is(float16BitsToFloat32(0x8000), -0)).toBe(true);
    expect(float16BitsToFloat32(0x7c00)).toBe(Infinity);
    expect(float16BitsToFloat32(0xfc00)).toBe(-Infinity);
    expect(Number.isNaN(float16BitsToFloat32(0x7e00))).toBe(true);
  });

  it('every finite float16 value round-trips; conversion is monotone and nearest', () => {
    const all = new Uint16Array(65536).map((_, i) => i);
    const f = float16ArrayToFloat32(all);
    const back = float32ArrayToFloat16(f);
    for (let i = 0; i < 65536; i++) {
      const e = (i >> 10) & 0x1f;
      if (e === 0x1f && (i & 0x3ff) !== 0) continue; // NaNs
      if (back[i] !== i) throw new Error(`0x${i.toString(16)} -> ${f[i]} -> 0x${back[i]!.toString(16)}`);
    }
    // midpoints between consecutive positive finite values round to the even neighbour,
    // and points just off the midpoint round to the nearer one
    for (let h = 0; h < 0x7bff; h++) {
      const lo = float16BitsToFloat32(h);
      const hi = float16BitsToFloat32(h + 1);
      const mid = (lo + hi) / 2; // exact in float32 (one more bit)
      expect(Math.fround(mid)).toBe(mid);
      const even = h % 2 === 0 ? h : h + 1;
      if (float32ToFloat16Bits(mid) !== even) throw new Error(`midpoint after 0x${h.toString(16)}`);
      const below = Math.fround(mid - (hi - lo) / 8);
      const above = Math.fround(mid + (hi - lo) / 8);
      if (float32ToFloat16Bits(below) !== h || float32ToFloat16Bits(above) !== h + 1) throw new Error(`near 0x${h.toString(16)}`);
    }
  });
});
