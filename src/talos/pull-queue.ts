import type { ClientReadableStream } from '@grpc/grpc-js';

/** Messages held before the node is asked to pause a server stream. */
const HIGH_WATER = 16;

/**
 * The messages of a grpc-js server stream, pulled one at a time with backpressure, then either the end or the
 * call's error (mapped by `fail`). grpc-js reports a failed call by emitting 'error' on a stream it has already
 * ended, which an async iterator started later would miss; this queue listens from the first moment, so no
 * message and no error is lost between opening the call and reading it.
 */
export class PullQueue<T> {
  private readonly items: T[] = [];
  private ended = false;
  private error: Error | undefined;
  private wake: (() => void) | undefined;

  constructor(
    private readonly call: ClientReadableStream<T>,
    fail: (err: unknown) => Error,
    onSettled: () => void,
  ) {
    call.on('data', (message: T) => {
      this.items.push(message);
      if (this.items.length >= HIGH_WATER) call.pause();
      this.notify();
    });
    call.on('error', (err: unknown) => {
      this.error ??= fail(err);
      onSettled();
      // grpc-js ends the stream before it emits the error: messages still buffered in it come first, then 'end'.
      if (call.readableLength === 0) this.ended = true;
      else call.resume();
      this.notify();
    });
    call.on('end', () => {
      onSettled();
      this.ended = true;
      this.notify();
    });
  }

  /** Waits until a message, the end or the error is there, without taking it (to decide on failover). */
  async ready(): Promise<void> {
    while (this.items.length === 0 && !this.ended) await new Promise<void>((resolve) => (this.wake = resolve));
    if (this.items.length === 0 && this.error) throw this.error;
  }

  /** The next message, or done at the end; throws the call's error after the messages that came before it. */
  async next(): Promise<IteratorResult<T, undefined>> {
    await this.ready();
    const item = this.items.shift();
    if (this.items.length < HIGH_WATER / 2) this.call.resume();
    return item === undefined ? { done: true, value: undefined } : { done: false, value: item };
  }

  /** Stops the call (the consumer is done with it). */
  close(): void {
    this.call.cancel();
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }
}
