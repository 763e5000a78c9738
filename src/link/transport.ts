/** What a Link needs from a socket. `ws`'s WebSocket satisfies it as is. */
export interface Transport {
  /** `written` runs once the frame left user space (ws calls it from the socket's write callback). */
  send(data: string, written?: (err?: Error) => void): void;
  /** Bytes queued in user space, not yet handed to the kernel. */
  readonly bufferedAmount: number;
  close(code: number, reason: string): void;
  /** Destroys the socket at once: no close handshake that could wait on a dead peer. */
  terminate(): void;
}
