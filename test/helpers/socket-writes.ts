import net from 'node:net';
import { vi } from 'vitest';

/**
 * The text of every write net.Socket makes from now on, one entry per
 * syscall (`_write` or `_writev`, its chunks joined), in every socket of this
 * process: both sides of an in-process link. Restore with vi.restoreAllMocks().
 */
export function socketWrites(): string[] {
  const writes: string[] = [];
  const record = (chunks: unknown[]) =>
    writes.push(
      chunks.map((c) => (typeof c === 'string' ? c : Buffer.from(c as Buffer).toString('latin1'))).join(''),
    );
  const proto = net.Socket.prototype as unknown as {
    _write(chunk: unknown, encoding: string, cb: () => void): void;
    _writev(chunks: { chunk: unknown }[], cb: () => void): void;
  };
  const write = proto._write;
  const writev = proto._writev;
  vi.spyOn(proto, '_write').mockImplementation(function (this: net.Socket, chunk, encoding, cb) {
    record([chunk]);
    return write.call(this, chunk, encoding, cb);
  });
  vi.spyOn(proto, '_writev').mockImplementation(function (this: net.Socket, chunks, cb) {
    record(chunks.map((c) => c.chunk));
    return writev.call(this, chunks, cb);
  });
  return writes;
}
