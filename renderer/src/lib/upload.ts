// Sends a File to the core in chunks (browser host, drag and drop), then imports it.
import type { ApiClient } from '../../../core/api/client';
import type { ImportResult } from '../../../core/api/contract';

const CHUNK_BYTES = 1024 * 1024;

function toBase64(blob: Blob): Promise<string> {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result).replace(/^data:[^,]*,/, ''));
    reader.onerror = () => reject(reader.error ?? new Error('Cannot read the file'));
    reader.readAsDataURL(blob);
  });
}

export async function uploadAndImport(api: ApiClient, file: File, jobId: string, onProgress: (sent: number) => void, signal: AbortSignal): Promise<ImportResult> {
  const uploadId = await upload(api, file, onProgress, signal);
  return api.call('upload.finish', { uploadId, jobId });
}

/** Send the file; the upload waits in the core until finished (imported), taken (fine-tuning) or aborted. */
export async function upload(api: ApiClient, file: File, onProgress: (sent: number) => void, signal: AbortSignal): Promise<string> {
  const { uploadId } = await api.call('upload.begin', { name: file.name, size: file.size });
  try {
    for (let offset = 0; offset < file.size; offset += CHUNK_BYTES) {
      if (signal.aborted) throw new DOMException('Upload cancelled', 'AbortError');
      const base64 = await toBase64(file.slice(offset, offset + CHUNK_BYTES));
      await api.call('upload.chunk', { uploadId, offset, base64 });
      onProgress(Math.min(file.size, offset + CHUNK_BYTES));
    }
  } catch (e) {
    await api.call('upload.abort', { uploadId }).catch(() => {});
    throw e;
  }
  return uploadId;
}
