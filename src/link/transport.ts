/** What a Link needs from a socket. `ws`'s WebSocket satisfies it as is. */
export interface Transport {
  /** Writes one text frame. */
  send(data: string): void;
  /**
   * Writes one text frame: a string, or the UTF-8 bytes of one (`TEXT`
   * keeps ws from sending a Buffer as binary). `written` runs once the frame
   * left user space (ws calls it from the socket's write callback).
   */
  send(data: string | Buffer, options: typeof TEXT, written?: (err?: Error) => void): void;
  /** Bytes queued in user space, not yet handed to the kernel. */
  readonly bufferedAmount: number;
  close(code: number, reason: string): void;
  /** Destroys the socket at once: no close handshake that could wait on a dead peer. */
  terminate(): void;
}

/** Send options for a text frame; one object for every write. */
export const TEXT: { readonly binary: false } = Object.freeze({ binary: false });
