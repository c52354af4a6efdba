// TensorFlow.js backend selection: WebGPU on a hardware adapter, then tfjs-node-gpu, then
// tfjs-node, then wasm, then cpu. The native packages are optional dependencies that usually cannot
// be installed (docs/stack.md: their install script downloads libtensorflow), so they are imported
// dynamically inside try/catch. A backend can be forced by name (argument, or env TITANS_BACKEND).
//
// WebGPU in Node comes from Dawn's bindings (npm package `webgpu`, dawn.node shipped per platform
// inside the package) under @tensorflow/tfjs-backend-webgpu. A software adapter (SwiftShader,
// llvmpipe, lavapipe, WARP) is never picked by itself, since it is far slower than wasm; forcing
// webgpu takes it (that is how the tests run on machines without a GPU, with
// VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json). In Node, WebGPU cannot read a
// tensor synchronously: code that must run on webgpu reads with `await t.data()` (dataSync on a
// tensor held by the GPU throws a clear error, see patchReadSync).

import * as tf from '@tensorflow/tfjs';
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import path from 'node:path';

export type BackendName = 'webgpu' | 'node-gpu' | 'node' | 'wasm' | 'cpu';

export interface BackendInfo {
  /** our name of the backend that is active */
  name: BackendName;
  /** tfjs' own name of it ('webgpu', 'tensorflow', 'wasm', 'cpu') */
  tfName: string;
  /** CPU threads it computes with (a hardware GPU: 1, the thread that drives it) */
  threads: number;
  /** it computes on a GPU (a software WebGPU adapter does not) */
  gpu: boolean;
  /** the WebGPU adapter, e.g. "nvidia ... (driver ...)" or "google swiftshader-device-subzero
   *  (SwiftShader driver 5.0.0; software)"; null for the other backends */
  adapter: string | null;
  /** every backend tried, in order, with why it was not taken */
  tried: { name: BackendName; error?: string }[];
}

export const BACKEND_ORDER: BackendName[] = ['webgpu', 'node-gpu', 'node', 'wasm', 'cpu'];
/** For code that still reads tensors synchronously (dataSync), which webgpu in Node cannot: the
 * recipe and evaluation scripts. Forcing webgpu there fails with a clear message. */
export const SYNC_BACKEND_ORDER: BackendName[] = BACKEND_ORDER.filter((b) => b !== 'webgpu');

const ALIASES: Record<string, BackendName> = {
  webgpu: 'webgpu',
  'tfjs-backend-webgpu': 'webgpu',
  dawn: 'webgpu',
  'node-gpu': 'node-gpu',
  'tfjs-node-gpu': 'node-gpu',
  gpu: 'node-gpu',
  node: 'node',
  'tfjs-node': 'node',
  tensorflow: 'node',
  wasm: 'wasm',
  cpu: 'cpu',
};

export function parseBackendName(s: string): BackendName {
  const n = ALIASES[s.trim().toLowerCase()];
  if (!n) throw new Error(`unknown backend "${s}" (one of ${BACKEND_ORDER.join(', ')})`);
  return n;
}

/** "webgpu (adapter)" or the backend's name: how the UI, the CLI and stored readings name it */
export function backendLabel(info: Pick<BackendInfo, 'name' | 'adapter'>): string {
  return info.adapter ? `${info.name} (${info.adapter})` : info.name;
}

/** import a module that may be absent, without TypeScript resolving it at compile time */
async function optionalImport(spec: string): Promise<unknown> {
  return import(/* @vite-ignore */ spec);
}

// ---------------------------------------------------------------- WebGPU (Dawn)

/** what WebGPU's GPUAdapterInfo (adapter.info, or the older requestAdapterInfo()) tells */
export interface AdapterInfo {
  vendor?: string;
  architecture?: string;
  device?: string;
  description?: string;
  isFallbackAdapter?: boolean;
}

interface Limits {
  [name: string]: number;
}
interface GpuDevice {
  lost: Promise<{ reason?: string; message?: string }>;
  addEventListener?: (type: 'uncapturederror', f: (e: { error?: { message?: string } }) => void) => void;
}
interface GpuAdapter {
  info?: AdapterInfo;
  requestAdapterInfo?: () => Promise<AdapterInfo>;
  isFallbackAdapter?: boolean;
  limits: Limits;
  requestDevice(d: { requiredLimits?: Limits; requiredFeatures?: string[] }): Promise<GpuDevice>;
}
interface Gpu {
  requestAdapter(o?: { powerPreference?: 'high-performance' | 'low-power' }): Promise<GpuAdapter | null>;
}

const SOFTWARE_ADAPTER = /swiftshader|llvmpipe|lavapipe|softpipe|microsoft basic render|\bwarp\b/i;

/** a CPU implementation of WebGPU (SwiftShader, llvmpipe/lavapipe, WARP): never picked by itself */
export function isSoftwareAdapter(info: AdapterInfo): boolean {
  if (info.isFallbackAdapter === true) return true;
  return SOFTWARE_ADAPTER.test([info.vendor, info.architecture, info.device, info.description].filter(Boolean).join(' '));
}

/** a readable name of an adapter from its info (Dawn gives vendor, a device slug and the driver) */
export function adapterLabel(info: AdapterInfo): string {
  const clean = (s: string | undefined) => (s ?? '').trim().replace(/[-_\s]+$/, '');
  const vendor = clean(info.vendor);
  const device = clean(info.device) || clean(info.architecture);
  let main = device && vendor && !device.toLowerCase().startsWith(vendor.toLowerCase()) ? `${vendor} ${device}` : device || vendor || 'unknown adapter';
  const extra = [clean(info.description), isSoftwareAdapter(info) ? 'software' : ''].filter((s) => s && s !== main);
  if (extra.length) main += ` (${extra.join('; ')})`;
  return main;
}

const RTLD_NODELETE = 0x1000; // glibc; not in os.constants.dlopen

/** dlopen a shared library (not a Node addon): true when it loaded */
function loadLibrary(file: string, flags: number): boolean {
  try {
    process.dlopen({ exports: {} } as NodeJS.Module, file, flags);
    return true; // (it would have to be an addon)
  } catch (e) {
    // it loaded, and was closed again, since it registers no Node module
    return /did not self-register/i.test(e instanceof Error ? e.message : String(e));
  }
}

/**
 * Linux: Dawn dlopens "libvulkan.so.1". Where the system has no Vulkan loader (Debian without
 * libvulkan1, a CI container), use the one Chromium or Electron ships beside its SwiftShader ICD or
 * its executable (or $TITANS_VULKAN_LOADER): loaded once and never unloaded, it satisfies Dawn's
 * dlopen by its soname. Returns 'system', the loader preloaded, or null: none (WebGPU cannot work).
 * Elsewhere (macOS: Metal, Windows: D3D12) 'system'.
 */
export function preloadVulkanLoader(): string | null {
  if (process.platform !== 'linux') return 'system';
  if (loadLibrary('libvulkan.so.1', 1 /* RTLD_LAZY */)) return 'system';
  const icds = (process.env.VK_ICD_FILENAMES ?? process.env.VK_DRIVER_FILES ?? '').split(':').filter(Boolean);
  const candidates = [
    process.env.TITANS_VULKAN_LOADER,
    ...icds.map((f) => path.join(path.dirname(f), 'libvulkan.so.1')),
    path.join(path.dirname(process.execPath), 'libvulkan.so.1'),
  ].filter((f): f is string => !!f);
  for (const f of candidates) if (existsSync(f) && loadLibrary(f, 2 /* RTLD_NOW */ | RTLD_NODELETE)) return f;
  return null;
}

let dawn: Promise<Gpu> | null = null;

/** navigator.gpu: the browser's, or Dawn's (created once per thread) */
export function webgpuApi(): Promise<Gpu> {
  dawn ??= (async () => {
    const g = globalThis as { navigator?: { gpu?: Gpu } };
    if (g.navigator?.gpu) return g.navigator.gpu;
    // without a Vulkan loader Dawn finds nothing on Linux (and says so on stderr): do not load it
    if (preloadVulkanLoader() === null) throw new Error('WebGPU needs a Vulkan driver on Linux, and there is no Vulkan loader (libvulkan.so.1)');
    const m = (await optionalImport('webgpu')) as { create: (flags: string[]) => Gpu; globals: object };
    Object.assign(globalThis, m.globals); // GPUBufferUsage, GPUMapMode, ... as tfjs expects them
    if (!g.navigator) Object.defineProperty(globalThis, 'navigator', { value: {}, writable: true, configurable: true });
    const gpu = m.create([]);
    Object.defineProperty(g.navigator!, 'gpu', { value: gpu, writable: true, configurable: true });
    return gpu;
  })();
  dawn.catch(() => (dawn = null));
  return dawn;
}

let adapterOnce: Promise<{ adapter: GpuAdapter; info: AdapterInfo }> | null = null;

/** the adapter WebGPU uses (high-performance), with its info; asked for once per thread */
export function webgpuAdapter(): Promise<{ adapter: GpuAdapter; info: AdapterInfo }> {
  adapterOnce ??= (async () => {
    const gpu = await webgpuApi();
    const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
    if (!adapter) {
      const linux = process.platform === 'linux' ? ' (Linux: it needs a Vulkan driver and libvulkan.so.1; without a GPU, VK_ICD_FILENAMES may name a software one such as /usr/lib/chromium/vk_swiftshader_icd.json)' : '';
      throw new Error(`WebGPU found no adapter${linux}`);
    }
    const raw = adapter.info ?? (adapter.requestAdapterInfo ? await adapter.requestAdapterInfo() : {});
    const info: AdapterInfo = {
      vendor: raw.vendor,
      architecture: raw.architecture,
      device: raw.device,
      description: raw.description,
      isFallbackAdapter: raw.isFallbackAdapter ?? adapter.isFallbackAdapter,
    };
    return { adapter, info };
  })();
  adapterOnce.catch(() => (adapterOnce = null));
  return adapterOnce;
}

interface WebGPUBackendModule {
  WebGPUBackend: { new (device: GpuDevice, info: AdapterInfo): tf.KernelBackend; prototype: { readSync(dataId: object): unknown } };
}

let readSyncPatched = false;
let registeredFor: GpuAdapter | null = null;

/**
 * Without OffscreenCanvas (Node, a worker), tfjs-backend-webgpu's readSync cannot read a GPU
 * buffer and fails obscurely: say what to do instead. Values already on the CPU still read.
 */
function patchReadSync(m: WebGPUBackendModule): void {
  if (readSyncPatched || typeof (globalThis as { OffscreenCanvas?: unknown }).OffscreenCanvas !== 'undefined') return;
  readSyncPatched = true;
  const proto = m.WebGPUBackend.prototype as { readSync(dataId: object): unknown; tensorMap?: unknown };
  const original = proto.readSync;
  proto.readSync = function (this: { tensorMap: { get(id: object): { values?: unknown; dtype?: string } | undefined } }, dataId: object) {
    const d = this.tensorMap.get(dataId);
    if (d && (d.values != null || d.dtype === 'string' || d.dtype === 'complex64')) return original.call(this, dataId);
    throw new Error('the webgpu backend cannot read a tensor synchronously in Node (dataSync, arraySync, bufferSync): this code path must await data() instead');
  };
}

const gpuErrors: string[] = [];

/** WebGPU validation and out-of-memory errors so far (Dawn also prints them), oldest first, and
 *  forget them. tfjs does not see these: a failed pipeline silently leaves a wrong result. */
export function takeWebGPUErrors(): string[] {
  return gpuErrors.splice(0);
}

/** register tfjs' webgpu backend on this adapter (our own factory: one device, the limits tfjs needs) */
async function registerWebGPU(adapter: GpuAdapter, info: AdapterInfo): Promise<void> {
  if (registeredFor === adapter && tf.findBackendFactory('webgpu')) return; // again: keep the device and its tensors
  const m = (await optionalImport('@tensorflow/tfjs-backend-webgpu')) as WebGPUBackendModule; // registers its factory
  patchReadSync(m);
  patchAddN();
  if (tf.findBackendFactory('webgpu')) tf.removeBackend('webgpu');
  registeredFor = adapter;
  const L = adapter.limits;
  // tfjs' own factory asks for these; the storage-buffer count bounds how many inputs one kernel takes
  const names = ['maxComputeWorkgroupStorageSize', 'maxComputeWorkgroupsPerDimension', 'maxStorageBufferBindingSize', 'maxBufferSize', 'maxComputeWorkgroupSizeX', 'maxComputeInvocationsPerWorkgroup', 'maxStorageBuffersPerShaderStage'];
  const requiredLimits: Limits = {};
  for (const n of names) if (typeof L[n] === 'number') requiredLimits[n] = L[n]!;
  tf.registerBackend(
    'webgpu',
    async () => {
      // no optional features: tfjs would pass 'bgra8unorm-storage' in a nested array, which strict bindings reject
      const device = await adapter.requestDevice({ requiredLimits });
      device.addEventListener?.('uncapturederror', (e) => {
        if (gpuErrors.length < 100) gpuErrors.push(e.error?.message ?? String(e));
      });
      void device.lost.then((l) => {
        if (l.reason !== 'destroyed') console.error(`WebGPU device lost (${adapterLabel(info)}): ${l.message ?? l.reason ?? 'no reason given'}`);
      });
      return new m.WebGPUBackend(device, info);
    },
    0, // never chosen by tfjs itself
  );
}

let addNPatched = false;

/**
 * tfjs-backend-webgpu 4.22's AddN binds every input in one shader; past the device's
 * maxStorageBuffersPerShaderStage (8 .. 12 on many adapters) the pipeline is invalid and the sum
 * silently wrong. Gradients sum many contributions with AddN (a parameter used in many places):
 * add in groups that fit, as its Concat already does.
 */
function patchAddN(): void {
  if (addNPatched) return;
  const original = tf.getKernel('AddN', 'webgpu');
  if (!original) return;
  addNPatched = true;
  type Info = tf.TensorInfo;
  type Backend = { device: { limits: { maxStorageBuffersPerShaderStage: number } }; disposeData(id: object): void };
  tf.unregisterKernel('AddN', 'webgpu');
  tf.registerKernel({
    kernelName: 'AddN',
    backendName: 'webgpu',
    kernelFunc: (args) => {
      const backend = args.backend as unknown as Backend;
      const max = Math.max(2, backend.device.limits.maxStorageBuffersPerShaderStage - 1); // one buffer is the output
      let inputs = args.inputs as unknown as Info[];
      const temps: Info[] = [];
      while (inputs.length > max) {
        const next: Info[] = [];
        for (let i = 0; i < inputs.length; i += max) {
          const group = inputs.slice(i, i + max);
          if (group.length === 1) next.push(group[0]!);
          else {
            const r = original.kernelFunc({ ...args, inputs: group as unknown as tf.NamedTensorInfoMap }) as Info;
            temps.push(r);
            next.push(r);
          }
        }
        inputs = next;
      }
      const out = original.kernelFunc({ ...args, inputs: inputs as unknown as tf.NamedTensorInfoMap });
      for (const t of temps) backend.disposeData(t.dataId);
      return out;
    },
  });
}

async function tryBackend(name: BackendName, forced: boolean): Promise<Omit<BackendInfo, 'name' | 'tried'>> {
  switch (name) {
    case 'webgpu': {
      const { adapter, info } = await webgpuAdapter();
      const label = adapterLabel(info);
      const software = isSoftwareAdapter(info);
      if (software && !forced) throw new Error(`the only WebGPU adapter is a software one (${label}), slower than wasm; TITANS_BACKEND=webgpu uses it`);
      await registerWebGPU(adapter, info);
      if (!(await tf.setBackend('webgpu'))) {
        tf.removeBackend('webgpu');
        throw new Error(`the webgpu backend failed to start on ${label}`);
      }
      return { tfName: 'webgpu', threads: software ? availableParallelism() : 1, gpu: !software, adapter: label };
    }
    case 'node-gpu': {
      await optionalImport('@tensorflow/tfjs-node-gpu'); // registers 'tensorflow' with CUDA kernels
      if (!(await tf.setBackend('tensorflow'))) throw new Error('tfjs-node-gpu loaded but its backend failed to start');
      return { tfName: 'tensorflow', threads: availableParallelism(), gpu: true, adapter: null };
    }
    case 'node': {
      await optionalImport('@tensorflow/tfjs-node');
      if (!(await tf.setBackend('tensorflow'))) throw new Error('tfjs-node loaded but its backend failed to start');
      return { tfName: 'tensorflow', threads: availableParallelism(), gpu: false, adapter: null };
    }
    case 'wasm': {
      await import('@tensorflow/tfjs-backend-wasm');
      if (!(await tf.setBackend('wasm'))) throw new Error('wasm backend failed to start');
      patchMatMulGradient();
      // tfjs disables wasm threads in Node (docs/stack.md); in a browser with cross-origin isolation
      // the threaded build may be used.
      const g = globalThis as { window?: unknown; crossOriginIsolated?: boolean };
      const threaded = g.window !== undefined && g.crossOriginIsolated === true;
      return { tfName: 'wasm', threads: threaded ? Math.max(1, availableParallelism()) : 1, gpu: false, adapter: null };
    }
    case 'cpu': {
      if (!(await tf.setBackend('cpu'))) throw new Error('cpu backend failed to start');
      return { tfName: 'cpu', threads: 1, gpu: false, adapter: null };
    }
  }
}

/**
 * Select and activate a backend. `force` (or env TITANS_BACKEND) picks one by name and fails if it
 * cannot start; otherwise the first of BACKEND_ORDER (or `order`) that starts is used.
 */
export async function selectBackend(opts: { force?: string; order?: BackendName[] } = {}): Promise<BackendInfo> {
  const forced = opts.force ?? process.env.TITANS_BACKEND;
  const order = forced ? [parseBackendName(forced)] : (opts.order ?? BACKEND_ORDER);
  const tried: BackendInfo['tried'] = [];
  for (const name of order) {
    try {
      const r = await tryBackend(name, !!forced);
      await tf.ready();
      tried.push({ name });
      return { name, ...r, tried };
    } catch (e) {
      tried.push({ name, error: e instanceof Error ? e.message : String(e) });
    }
  }
  throw new Error(`no TensorFlow.js backend could start: ${tried.map((t) => `${t.name}: ${t.error}`).join('; ')}`);
}

let matMulPatched = false;

/**
 * Re-register the BatchMatMul gradient with explicit transposes (docs/stack.md: wasm is fast only for
 * non-transposed matMul; the default gradient uses transposed products). Mathematically identical
 * to tfjs' own gradient; idempotent. Only worth it on wasm (the registry is global).
 */
export function patchMatMulGradient(): void {
  if (matMulPatched) return;
  matMulPatched = true;
  const T = (x: tf.Tensor) => {
    const perm = x.shape.map((_, i) => i);
    const r = perm.length;
    [perm[r - 2], perm[r - 1]] = [perm[r - 1]!, perm[r - 2]!];
    return tf.transpose(x, perm);
  };
  const mm = (a: tf.Tensor, b: tf.Tensor) => tf.matMul(a, b);
  const prevWarn = console.warn;
  console.warn = () => {}; // tfjs warns that the gradient is overridden
  try {
    tf.registerGradient({
      kernelName: 'BatchMatMul',
      inputsToSave: ['a', 'b'],
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[], attrs: tf.NamedAttrMap) => {
        const g = dy as tf.Tensor;
        const [a, b] = saved as [tf.Tensor, tf.Tensor];
        const { transposeA, transposeB } = attrs as unknown as { transposeA: boolean; transposeB: boolean };
        // C = op(A) op(B): dA and dB with every transpose materialised
        if (!transposeA && !transposeB) return { a: () => mm(g, T(b)), b: () => mm(T(a), g) };
        if (!transposeA && transposeB) return { a: () => mm(g, b), b: () => mm(T(g), a) };
        if (transposeA && !transposeB) return { a: () => mm(b, T(g)), b: () => mm(a, g) };
        return { a: () => mm(T(b), T(g)), b: () => mm(T(g), T(a)) };
      },
    });
  } finally {
    console.warn = prevWarn;
  }
}

export function isMatMulGradientPatched(): boolean {
  return matMulPatched;
}
