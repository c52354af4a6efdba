// Streaming decoder: bytes in any supported encoding -> text with LF line ends.
import iconv from 'iconv-lite';

export interface TextDecoderStream {
  write(bytes: Uint8Array): string;
  end(): string;
}

/** UTF-8 is decoded strictly (an invalid byte throws); legacy encodings through iconv-lite. */
export function createDecoder(encoding: string): TextDecoderStream {
  if (encoding === 'utf-8') {
    const d = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
    return { write: (b) => d.decode(b, { stream: true }), end: () => d.decode() };
  }
  const d = iconv.getDecoder(encoding, { stripBOM: false });
  return { write: (b) => d.write(Buffer.from(b.buffer, b.byteOffset, b.byteLength)), end: () => d.end() ?? '' };
}

/** Turns CRLF and lone CR into LF, also when a CRLF pair is split between two chunks. */
export class NewlineNormalizer {
  private pendingCr = false;

  push(text: string): string {
    let s = text;
    if (this.pendingCr) {
      s = '\r' + s;
      this.pendingCr = false;
    }
    if (s.endsWith('\r')) {
      this.pendingCr = true;
      s = s.slice(0, -1);
    }
    return s.includes('\r') ? s.replace(/\r\n?/g, '\n') : s;
  }

  end(): string {
    const tail = this.pendingCr ? '\n' : '';
    this.pendingCr = false;
    return tail;
  }
}
