// Configuration of the Titans language model (docs/titans.md section 3): the architecture that places the
// neural memory (MAC, MAG, MAL, or LMM alone), widths, depth, attention and memory settings.
import { defaultConfig as defaultMemoryConfig, type NeuralMemoryConfig } from '../memory/config.js';

export type Architecture = 'mac' | 'mag' | 'mal' | 'lmm';

export interface ModelConfig {
  arch: Architecture;
  vocabSize: number;
  /** model width d */
  dim: number;
  layers: number;
  /** attention heads (head width dim / heads) */
  heads: number;
  /** SwiGLU hidden width = round(dim * ffnMult) */
  ffnMult: number;
  /** MAC: segment length C (attention runs within a segment; a multiple of the memory chunk) */
  segment: number;
  /** MAG, MAL: sliding-window attention width */
  window: number;
  /** N_p learned persistent-memory tokens prepended where attention runs (Eq. 19) */
  persistentTokens: number;
  /** neural-memory settings shared by every layer's memory (dim is the model's) */
  memory: Omit<NeuralMemoryConfig, 'dim'>;
  /** layers that hold a neural memory (others are plain attention blocks); null = every layer */
  memoryLayers: number[] | null;
  /** false switches the long-term memory off (the ablation baseline): no retrieval, no update */
  useMemory: boolean;
  ropeBase: number;
  normEps: number;
  tieEmbeddings: boolean;
}

export function modelConfig(over: Partial<Omit<ModelConfig, 'memory'>> & { memory?: Partial<Omit<NeuralMemoryConfig, 'dim'>> } = {}): ModelConfig {
  const dim = over.dim ?? 64;
  const memory = defaultMemoryConfig({ dim, chunkSize: 8, ...over.memory });
  const { dim: _ignored, ...memoryRest } = memory;
  const cfg: ModelConfig = {
    arch: 'mac',
    vocabSize: 260,
    layers: 2,
    heads: 4,
    ffnMult: 8 / 3,
    segment: 32,
    window: 64,
    persistentTokens: 4,
    memoryLayers: null,
    useMemory: true,
    ropeBase: 10000,
    normEps: 1e-6,
    tieEmbeddings: true,
    ...over,
    dim,
    memory: memoryRest,
  };
  validateModelConfig(cfg);
  return cfg;
}

export function validateModelConfig(c: ModelConfig): void {
  const pos = (v: number, name: string) => {
    if (!Number.isInteger(v) || v < 1) throw new Error(`ModelConfig.${name} must be a positive integer, got ${v}`);
  };
  pos(c.vocabSize, 'vocabSize');
  pos(c.dim, 'dim');
  pos(c.layers, 'layers');
  pos(c.heads, 'heads');
  pos(c.segment, 'segment');
  pos(c.window, 'window');
  if (!Number.isInteger(c.persistentTokens) || c.persistentTokens < 0) throw new Error('ModelConfig.persistentTokens must be >= 0');
  if (c.dim % c.heads !== 0) throw new Error('ModelConfig.dim must be divisible by heads');
  if ((c.dim / c.heads) % 2 !== 0) throw new Error('attention head width must be even (RoPE)');
  if (c.arch === 'mac' && c.segment % c.memory.chunkSize !== 0) throw new Error('MAC segment must be a multiple of the memory chunk size');
  if (!['mac', 'mag', 'mal', 'lmm'].includes(c.arch)) throw new Error(`unknown architecture ${c.arch}`);
  for (const l of c.memoryLayers ?? []) if (!Number.isInteger(l) || l < 0 || l >= c.layers) throw new Error(`memory layer ${l} does not exist`);
}

export function memoryConfigOf(c: ModelConfig): NeuralMemoryConfig {
  return { ...c.memory, dim: c.dim };
}

/** The span attention runs within: a MAC segment (null for the other architectures). */
export function attentionSegment(c: ModelConfig): number | null {
  return c.arch === 'mac' ? c.segment : null;
}

export function hasMemory(c: ModelConfig, layer: number): boolean {
  if (c.arch === 'lmm') return true; // the memory is the token mixer
  return c.useMemory && (c.memoryLayers === null || c.memoryLayers.includes(layer));
}

export function ffnWidth(c: ModelConfig): number {
  return Math.max(1, Math.round(c.dim * c.ffnMult));
}
