// A raw HTTP client for the host tests: bytes a real client would never send.
import net from 'node:net';

/** Send raw bytes on a fresh connection; the status code of the answer, or null if none came. */
export function raw(port: number, data: string | Buffer, waitMs = 2000): Promise<{ status: number | null; text: string }> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const socket = net.connect(port, '127.0.0.1');
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      const text = Buffer.concat(chunks).toString('latin1');
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(text);
      resolve({ status: m ? Number(m[1]) : null, text });
    };
    const timer = setTimeout(finish, waitMs);
    socket.on('data', (d) => {
      chunks.push(d);
      // an answer with its headers: wait briefly for the body, then stop (keep-alive would hold it open)
      if (Buffer.concat(chunks).includes('\r\n\r\n')) setTimeout(finish, 50);
    });
    socket.on('end', finish);
    socket.on('close', finish);
    socket.on('error', finish);
    socket.write(data);
  });
}
