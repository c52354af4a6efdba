// Configuration and parameter layout of the neural long-term memory (LMM), shared by the
// tfjs module (models/memory/*) and the float64 reference the tests check it against
// (test/oracles/memory64.ts).
// Spec: docs/titans.md section 1 (paper arXiv 2501.00663 section 3.1, 4.4).

/** 'titans': our model (conv + SiLU + l2-norm projections, gradients at W_{n-1} for every chunk).
 *  'reference': titans-pytorch compatible (linear projections, optional activation and q/k RMSNorm,
 *  a separate gradient-weights refresh interval, incl. batch_size=None = all gradients at W0). */
export type MemoryMode = 'titans' | 'reference';

export interface NeuralMemoryConfig {
  /** model width d */
  dim: number;
  /** number of memory heads h */
  heads: number;
  /** head width dh (dim of keys, values, queries per head) */
  dimHead: number;
  /** chunk length b: memory update granularity (docs/titans.md Eq. 13-14) */
  chunkSize: number;
  /**
   * Interval (tokens, a multiple of chunkSize) at which the weights used for gradients are
   * refreshed (titans-pytorch `batch_size`). null = never (titans-pytorch batch_size=None: every
   * gradient is taken at W0). In 'titans' mode it must equal chunkSize (paper Eq. 16-18).
   */
  refreshInterval: number | null;
  /** memory MLP depth L_M >= 1 (1 = a single dh x dh matrix) */
  depth: number;
  /** hidden width factor of the memory MLP (hidden = dimHead * expansion) */
  expansion: number;
  /** wrap the MLP as M(x) = x + LN(MLP(x)) * (gamma + 1) (titans-pytorch ResidualNorm) */
  normResidual: boolean;
  /** theta_t = sigmoid(Linear(x_t)) * maxLr */
  maxLr: number;
  mode: MemoryMode;
  /** causal depthwise conv kernel length on q/k/v ('titans' mode only) */
  convKernel: number;
  /** activation after the q/k/v projections in 'reference' mode ('titans' mode: always SiLU) */
  activation: 'none' | 'silu';
  /** per-head RMSNorm with learned (gamma + 1) on q and k */
  qkRmsNorm: boolean;
  /** input RMSNorms before storing and retrieving (titans-pytorch pre_rmsnorm) */
  preNorm: boolean;
  /** per-head RMSNorm with (gamma + 1) on the retrieved values (titans-pytorch post_rmsnorm) */
  postNorm: boolean;
  /** eps of every RMSNorm (titans-pytorch: machine eps of the dtype) */
  rmsEps: number;
  /** eps of the memory's LayerNorm (docs/titans.md: 1e-5) */
  lnEps: number;
  /** eps of the l2-normalisation of q and k ('titans' mode) */
  l2Eps: number;
}

export const FLOAT64_EPS = 2.220446049250313e-16;

export function defaultConfig(over: Partial<NeuralMemoryConfig> & { dim: number }): NeuralMemoryConfig {
  const heads = over.heads ?? 1;
  const chunkSize = over.chunkSize ?? 16;
  const mode = over.mode ?? 'titans';
  const cfg: NeuralMemoryConfig = {
    heads,
    dimHead: over.dimHead ?? over.dim / heads,
    chunkSize,
    refreshInterval: mode === 'titans' ? chunkSize : null,
    depth: 2,
    expansion: 4,
    normResidual: true,
    maxLr: mode === 'titans' ? 0.1 : 1,
    mode,
    convKernel: 4,
    activation: 'none',
    qkRmsNorm: false,
    preNorm: true,
    postNorm: false,
    rmsEps: mode === 'titans' ? 1e-6 : FLOAT64_EPS,
    lnEps: 1e-5,
    l2Eps: 1e-12,
    ...over,
  };
  validateConfig(cfg);
  return cfg;
}

export function validateConfig(c: NeuralMemoryConfig): void {
  const int = (v: number, name: string) => {
    if (!Number.isInteger(v) || v < 1) throw new Error(`NeuralMemoryConfig.${name} must be a positive integer, got ${v}`);
  };
  int(c.dim, 'dim');
  int(c.heads, 'heads');
  int(c.dimHead, 'dimHead');
  int(c.chunkSize, 'chunkSize');
  int(c.depth, 'depth');
  int(c.convKernel, 'convKernel');
  int(hiddenWidth(c), 'dimHead*expansion');
  if (c.refreshInterval !== null) {
    int(c.refreshInterval, 'refreshInterval');
    if (c.refreshInterval % c.chunkSize !== 0) throw new Error('refreshInterval must be a multiple of chunkSize');
  }
  if (c.mode === 'titans' && c.refreshInterval !== c.chunkSize) {
    throw new Error("mode 'titans' takes every chunk's gradient at W_{n-1}: refreshInterval must equal chunkSize");
  }
  if (c.heads === 1 && c.dimHead !== c.dim) throw new Error('heads = 1 needs dimHead = dim');
}

export function hiddenWidth(c: NeuralMemoryConfig): number {
  return Math.round(c.dimHead * c.expansion);
}

/** widths of the memory MLP: (dh, hidden x (L-1), dh) */
export function memLayerDims(c: NeuralMemoryConfig): number[] {
  const dims = [c.dimHead];
  for (let l = 1; l < c.depth; l++) dims.push(hiddenWidth(c));
  dims.push(c.dimHead);
  return dims;
}

/**
 * Every outer parameter, by our name, with its shape. Matrices use the x @ W convention
 * ([in, out]); a torch Linear weight is the transpose.
 */
export function paramShapes(c: NeuralMemoryConfig): Record<string, number[]> {
  const { dim: d, heads: h, dimHead: dh } = c;
  const inner = h * dh;
  const s: Record<string, number[]> = {};
  if (c.preNorm) {
    s.storeNorm = [d]; // RMSNorm weight before storing
    s.retrieveNorm = [d]; // RMSNorm weight before retrieving
  }
  s.wq = [d, inner];
  s.wk = [d, inner];
  s.wv = [d, inner];
  if (c.mode === 'titans') {
    s.convQ = [c.convKernel, inner]; // depthwise causal conv taps, tap K-1 = current token
    s.convK = [c.convKernel, inner];
    s.convV = [c.convKernel, inner];
  }
  if (c.qkRmsNorm) {
    s.qNorm = [h, dh];
    s.kNorm = [h, dh];
  }
  s.thetaW = [d, h];
  s.thetaB = [h];
  s.etaW = [d, h];
  s.etaB = [h];
  s.alphaW = [d, h];
  s.alphaB = [h];
  if (c.normResidual) s.memGamma = [h, dh];
  const dims = memLayerDims(c);
  for (let l = 0; l < c.depth; l++) s[`mem${l}`] = [h, dims[l]!, dims[l + 1]!];
  if (c.postNorm) s.postNorm = [h, dh];
  if (h > 1) {
    s.gateW = [d, h]; // per-head output gate sigmoid(x gateW)
    s.outW = [inner, d]; // merge heads
  }
  return s;
}

/** names of the fast-weight tensors (per head) in update order: memGamma?, mem0..mem{L-1} */
export function memParamNames(c: NeuralMemoryConfig): string[] {
  const names: string[] = [];
  if (c.normResidual) names.push('memGamma');
  for (let l = 0; l < c.depth; l++) names.push(`mem${l}`);
  return names;
}
