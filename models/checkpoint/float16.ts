// IEEE 754 binary16 <-> binary32 conversion (round to nearest, ties to even; subnormals; inf; NaN).

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** the binary16 bit pattern nearest to float32(x) (ties to even); NaN -> a quiet NaN keeping the sign */
export function float32ToFloat16Bits(x: number): number {
  f32[0] = x;
  return float32BitsToFloat16Bits(u32[0]!);
}

/** the same conversion on a float32 bit pattern */
export function float32BitsToFloat16Bits(bits: number): number {
  const sign = (bits >>> 16) & 0x8000;
  const exp = (bits >>> 23) & 0xff;
  let mant = bits & 0x7fffff;
  if (exp === 0xff) {
    // infinity, or NaN: keep the top payload bits, force the quiet bit so it stays a NaN
    return mant === 0 ? sign | 0x7c00 : sign | 0x7e00 | (mant >>> 13);
  }
  const e = exp - 127 + 15; // exponent re-biased for binary16
  if (e >= 0x1f) return sign | 0x7c00; // overflow -> infinity
  if (e <= 0) {
    // binary16 subnormal (or zero): value = mant16 * 2^-24
    if (e < -10) return sign; // below half the smallest subnormal -> signed zero
    mant |= 0x800000; // the implicit leading bit
    const shift = 14 - e; // 14..24 bits dropped
    const half = 1 << (shift - 1);
    const rem = mant & ((1 << shift) - 1);
    let h = mant >>> shift;
    if (rem > half || (rem === half && (h & 1) === 1)) h++; // a carry into the exponent is correct
    return sign | h;
  }
  let h = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (h & 1) === 1)) h++; // a carry may reach infinity: correct
  return sign | h;
}

/** the float value of a binary16 bit pattern (exact in float32 and float64) */
export function float16BitsToFloat32(h: number): number {
  const s = (h & 0x8000) !== 0 ? -1 : 1;
  const e = (h >>> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 0x1f) return m === 0 ? s * Infinity : NaN;
  return s * (1024 + m) * 2 ** (e - 25);
}

export function float32ArrayToFloat16(src: Float32Array): Uint16Array {
  const bits = new Uint32Array(src.buffer, src.byteOffset, src.length);
  const out = new Uint16Array(src.length);
  for (let i = 0; i < src.length; i++) out[i] = float32BitsToFloat16Bits(bits[i]!);
  return out;
}

export function float16ArrayToFloat32(src: Uint16Array): Float32Array {
  const out = new Float32Array(src.length);
  for (let i = 0; i < src.length; i++) out[i] = float16BitsToFloat32(src[i]!);
  return out;
}

/** float32 values rounded through binary16 and back (what a float16-stored tensor decodes to) */
export function roundToFloat16(src: Float32Array): Float32Array {
  return float16ArrayToFloat32(float32ArrayToFloat16(src));
}
