// A small ZIP reader for EPUB and DOCX that checks the archive before inflating anything:
// declared sizes (zip bombs), compression ratios, and entry names that try to leave the archive.
// Entries are inflated one at a time with a hard cap on the output, so a lying header cannot
// make us inflate more than it declared; each entry is inflated at most once (a book that names
// one chapter 20,000 times gets the same bytes back), and what is really inflated counts
// against the same total as what the entries declare.
import zlib from 'node:zlib';
import { ApiError } from '../../api/errors.js';

export interface ZipLimits {
  /** Refuse when all entries together declare more than this (default 512 MB). */
  maxTotalBytes: number;
  /** Refuse an entry larger than `ratioAppliesAbove` that compresses better than this (default 100). */
  maxRatio: number;
  ratioAppliesAbove: number;
}

export const DEFAULT_ZIP_LIMITS: ZipLimits = {
  maxTotalBytes: 512 * 1024 * 1024,
  maxRatio: 100,
  ratioAppliesAbove: 8 * 1024 * 1024,
};

interface Entry {
  name: string;
  method: number;
  compressedSize: number;
  uncompressedSize: number;
  localOffset: number;
}

export class ZipArchive {
  private readonly entries = new Map<string, Entry>();
  private readonly unpacked = new Map<string, Buffer>();
  private unpackedTotal = 0;

  private constructor(
    private readonly bytes: Buffer,
    private readonly fileName: string,
    private readonly what: string,
    private readonly limits: ZipLimits,
  ) {}

  /** Bytes inflated so far (each entry counted once, as it is inflated once). */
  get unpackedBytes(): number {
    return this.unpackedTotal;
  }

  /** Reads the central directory and applies the guards; throws ApiError for anything unsafe. */
  static open(bytes: Buffer, fileName: string, what: string, limits: ZipLimits = DEFAULT_ZIP_LIMITS): ZipArchive {
    const zip = new ZipArchive(bytes, fileName, what, limits);
    const broken = (why: string) =>
      new ApiError('unreadable', `${fileName} is not a readable ${what}: ${why}.`, 'The file may be damaged or incomplete; download or export it again.');
    try {
      zip.readDirectory(broken);
    } catch (e) {
      // A field that points past the end of the file (Buffer reads throw RangeError) is damage too.
      if (e instanceof ApiError) throw e;
      throw broken('the ZIP directory is damaged');
    }
    return zip;
  }

  private readDirectory(broken: (why: string) => ApiError): void {
    const { bytes, fileName, what, limits } = this;
    const eocd = findEndOfCentralDirectory(bytes);
    if (eocd < 0) throw broken('the ZIP archive has no central directory (it is truncated or not a ZIP file)');
    let count = bytes.readUInt16LE(eocd + 10);
    let cdOffset = bytes.readUInt32LE(eocd + 16);
    if (cdOffset === 0xffffffff || count === 0xffff) {
      const locator = eocd - 20;
      if (locator < 0 || bytes.readUInt32LE(locator) !== 0x07064b50) throw broken('the ZIP64 directory is missing');
      const z64 = Number(bytes.readBigUInt64LE(locator + 8));
      if (z64 + 56 > bytes.length || bytes.readUInt32LE(z64) !== 0x06064b50) throw broken('the ZIP64 directory is damaged');
      count = Number(bytes.readBigUInt64LE(z64 + 32));
      cdOffset = Number(bytes.readBigUInt64LE(z64 + 48));
    }
    let p = cdOffset;
    let total = 0;
    for (let i = 0; i < count; i++) {
      if (p + 46 > bytes.length || bytes.readUInt32LE(p) !== 0x02014b50) throw broken('the ZIP directory is damaged');
      const method = bytes.readUInt16LE(p + 10);
      let compressedSize = bytes.readUInt32LE(p + 20);
      let uncompressedSize = bytes.readUInt32LE(p + 24);
      const nameLength = bytes.readUInt16LE(p + 28);
      const extraLength = bytes.readUInt16LE(p + 30);
      const commentLength = bytes.readUInt16LE(p + 32);
      let localOffset = bytes.readUInt32LE(p + 42);
      const name = bytes.toString('utf8', p + 46, p + 46 + nameLength);
      // ZIP64 extra field: the 64-bit values appear in order for each 32-bit field that is 0xFFFFFFFF.
      let e = p + 46 + nameLength;
      const extraEnd = e + extraLength;
      while (e + 4 <= extraEnd) {
        const id = bytes.readUInt16LE(e);
        const size = bytes.readUInt16LE(e + 2);
        if (id === 0x0001) {
          let q = e + 4;
          if (uncompressedSize === 0xffffffff && q + 8 <= e + 4 + size) (uncompressedSize = Number(bytes.readBigUInt64LE(q))), (q += 8);
          if (compressedSize === 0xffffffff && q + 8 <= e + 4 + size) (compressedSize = Number(bytes.readBigUInt64LE(q))), (q += 8);
          if (localOffset === 0xffffffff && q + 8 <= e + 4 + size) localOffset = Number(bytes.readBigUInt64LE(q));
        }
        e += 4 + size;
      }
      p = extraEnd + commentLength;
      if (!isSafeName(name)) {
        throw new ApiError('unreadable', `${fileName} contains a file with an unsafe path ("${name}") that points outside the ${what}.`, 'The file may have been crafted to attack readers; it was not opened.');
      }
      total += uncompressedSize;
      if (total > limits.maxTotalBytes) throw tooMuch(fileName, what, limits);
      if (uncompressedSize > limits.ratioAppliesAbove && uncompressedSize > limits.maxRatio * Math.max(1, compressedSize)) {
        throw new ApiError('too_large', `${fileName} contains "${name}", which would unpack to ${Math.round(uncompressedSize / 1024 ** 2)} MB from ${Math.max(1, Math.round(compressedSize / 1024))} KB, a compression ratio no real ${what} has.`, 'It may be a "zip bomb"; it was not unpacked. Check where the file came from.');
      }
      if (!name.endsWith('/')) this.entries.set(name, { name, method, compressedSize, uncompressedSize, localOffset });
    }
  }

  has(name: string): boolean {
    return this.entries.has(name);
  }

  names(): string[] {
    return [...this.entries.keys()];
  }

  /** The entry's bytes, or null when the archive has no such entry. Inflated on the first read, then kept. */
  read(name: string): Buffer | null {
    const entry = this.entries.get(name) ?? this.entries.get(decodeURIComponentSafe(name));
    if (!entry) return null;
    const known = this.unpacked.get(entry.name);
    if (known) return known;
    const out = this.inflate(entry, name);
    this.unpackedTotal += out.length;
    if (this.unpackedTotal > this.limits.maxTotalBytes) throw tooMuch(this.fileName, this.what, this.limits);
    this.unpacked.set(entry.name, out);
    return out;
  }

  private inflate(entry: Entry, name: string): Buffer {
    const b = this.bytes;
    const broken = () => new ApiError('unreadable', `${this.fileName} is damaged: "${name}" inside it cannot be unpacked.`, 'Download or export the file again.');
    const p = entry.localOffset;
    if (p + 30 > b.length || b.readUInt32LE(p) !== 0x04034b50) throw broken();
    const dataStart = p + 30 + b.readUInt16LE(p + 26) + b.readUInt16LE(p + 28);
    const data = b.subarray(dataStart, dataStart + entry.compressedSize);
    if (data.length < entry.compressedSize) throw broken();
    if (entry.method === 0) return data;
    if (entry.method !== 8) throw new ApiError('unsupported_format', `${this.fileName} uses a compression method (${entry.method}) that is not supported for "${name}".`, 'Re-save the file with standard ZIP (deflate) compression.');
    try {
      // The cap is the declared size: a header that lies about it fails here instead of filling memory.
      const out = zlib.inflateRawSync(data, { maxOutputLength: Math.max(1, entry.uncompressedSize) });
      return out;
    } catch (e) {
      if ((e as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') {
        throw new ApiError('too_large', `${this.fileName} contains "${name}", which unpacks to more than the ${entry.uncompressedSize} bytes it declares.`, 'It may be a "zip bomb"; it was not unpacked. Check where the file came from.');
      }
      throw broken();
    }
  }

  text(name: string): string | null {
    const bytes = this.read(name);
    return bytes === null ? null : new TextDecoder('utf-8').decode(bytes);
  }
}

function tooMuch(fileName: string, what: string, limits: ZipLimits): ApiError {
  return new ApiError('too_large', `${fileName} would unpack to more than ${Math.round(limits.maxTotalBytes / 1024 ** 2)} MB, which is far more than any ${what} needs.`, 'It may be a "zip bomb"; it was not unpacked. Check where the file came from.');
}

function findEndOfCentralDirectory(b: Buffer): number {
  const min = Math.max(0, b.length - 22 - 0xffff);
  for (let i = b.length - 22; i >= min; i--) if (b.readUInt32LE(i) === 0x06054b50) return i;
  return -1;
}

/** No absolute paths, drive letters, backslashes or ".." segments. */
export function isSafeName(name: string): boolean {
  if (name.startsWith('/') || name.includes('\\') || /^[A-Za-z]:/.test(name) || name.includes('\0')) return false;
  return !name.split('/').some((s) => s === '..');
}

function decodeURIComponentSafe(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

export function isZip(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && bytes[0] === 0x50 && bytes[1] === 0x4b && bytes[2] === 0x03 && bytes[3] === 0x04;
}
