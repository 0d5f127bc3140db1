import { EventEmitter } from 'node:events';

const MAX_LINES = 2_000;

/** A bounded log (per service, and the kernel log) that can be tailed and followed, as Logs and Dmesg serve it. */
export class LogBuffer {
  private readonly lines: string[] = [];
  private readonly emitter = new EventEmitter();

  constructor() {
    this.emitter.setMaxListeners(0);
  }

  append(line: string): void {
    this.lines.push(line);
    if (this.lines.length > MAX_LINES) this.lines.shift();
    this.emitter.emit('line', line);
  }

  /** The last `n` lines; -1 means all, 0 none (LogsRequest.tail_lines semantics). */
  tail(n: number): string[] {
    if (n < 0) return [...this.lines];
    return n === 0 ? [] : this.lines.slice(-n);
  }

  follow(listener: (line: string) => void): () => void {
    this.emitter.on('line', listener);
    return () => this.emitter.off('line', listener);
  }
}
