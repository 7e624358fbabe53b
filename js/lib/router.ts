// Requests to the kernel: each carries an id and a type; each reply carries the same id and
// either a result or an error. For requests made through `latest`, only the reply to the newest
// request of that type reaches the view: an older reply arriving late is reported as stale.
//
// Ids are unique per router (a random prefix and a counter), so two views of one model, or a
// reload of the page, never take each other's replies. A request that cannot be sent (the
// kernel was restarted or shut down) or that gets no reply in time resolves with an error that
// says so, instead of leaving the view "computing" for ever.
import { restoreBuffers } from "./codec";

export type Outcome<T = unknown> =
  | { status: "ok"; result: T }
  | { status: "error"; error: string }
  | { status: "stale" };

type Pending = {
  resolve: (outcome: Outcome) => void;
  type: string;
  generation: number | null;
  timer: ReturnType<typeof setTimeout> | null;
};

export interface ModelLike {
  send(content: unknown, callbacks?: unknown, buffers?: ArrayBuffer[]): void;
  on(event: string, handler: (...args: any[]) => void): void;
  off?(event: string, handler: (...args: any[]) => void): void;
}

export type Reply = {
  kind: "reply";
  id: string;
  ok: boolean;
  result?: unknown;
  error?: string;
  superseded?: boolean;
  buffer_paths?: (string | number)[][];
};

export const KERNEL_GONE =
  "The kernel behind this widget is gone (restarted or shut down), so it cannot compute. Run the cell again to get a live view.";

/** Default seconds to wait for a reply; a kernel busy with a long cell answers only after it. */
export const DEFAULT_TIMEOUT_S = 120;

function randomPrefix(): string {
  const bytes = new Uint8Array(6);
  globalThis.crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

export class Router {
  readonly prefix = randomPrefix();
  private nextId = 1;
  private pending = new Map<string, Pending>();
  private newest = new Map<string, number>();
  private readonly onMessage: (msg: unknown, buffers?: (DataView | ArrayBuffer)[]) => void;

  constructor(
    private model: ModelLike,
    private timeoutSeconds: number = DEFAULT_TIMEOUT_S,
  ) {
    this.onMessage = (msg, buffers) => this.receive(msg, buffers ?? []);
    model.on("msg:custom", this.onMessage);
  }

  /** Send a request; resolves with its outcome, whatever else was sent meanwhile. */
  request<T = unknown>(type: string, payload: unknown = {}): Promise<Outcome<T>> {
    return this.send(type, payload, null) as Promise<Outcome<T>>;
  }

  /** Send a request that supersedes earlier ones of the same type. */
  latest<T = unknown>(type: string, payload: unknown = {}): Promise<Outcome<T>> {
    const generation = (this.newest.get(type) ?? 0) + 1;
    this.newest.set(type, generation);
    return this.send(type, payload, generation) as Promise<Outcome<T>>;
  }

  /** How many requests still wait for a reply. */
  get waiting(): number {
    return this.pending.size;
  }

  dispose(): void {
    this.model.off?.("msg:custom", this.onMessage);
    for (const id of [...this.pending.keys()]) this.settle(id, { status: "stale" });
  }

  private send(type: string, payload: unknown, generation: number | null): Promise<Outcome> {
    const id = `${this.prefix}-${this.nextId++}`;
    return new Promise((resolve) => {
      this.pending.set(id, { resolve, type, generation, timer: null });
      try {
        this.model.send({ kind: "request", id, type, payload });
      } catch (error) {
        this.settle(id, { status: "error", error: KERNEL_GONE });
        return;
      }
      const seconds = this.timeoutSeconds;
      this.pending.get(id)!.timer = setTimeout(
        () =>
          this.settle(id, {
            status: "error",
            error: `No reply from the kernel after ${seconds} s: it may be busy running another cell, or gone (restarted or shut down). Try again once it is idle, or run the cell again.`,
          }),
        seconds * 1000,
      );
    });
  }

  private settle(id: string, outcome: Outcome): void {
    const pending = this.pending.get(id);
    if (!pending) return;
    this.pending.delete(id);
    if (pending.timer !== null) clearTimeout(pending.timer);
    const superseded = pending.generation !== null && pending.generation !== this.newest.get(pending.type);
    pending.resolve(superseded ? { status: "stale" } : outcome);
  }

  receive(msg: unknown, buffers: (DataView | ArrayBuffer)[]): void {
    const reply = msg as Reply;
    if (!reply || reply.kind !== "reply" || !this.pending.has(reply.id)) return;
    if (reply.superseded) {
      // the kernel stopped this one for a newer request (of any type): nothing to show
      this.settle(reply.id, { status: "stale" });
      return;
    }
    if (!reply.ok) {
      this.settle(reply.id, { status: "error", error: reply.error ?? "unknown error" });
      return;
    }
    const result = reply.buffer_paths?.length ? restoreBuffers(reply.result, reply.buffer_paths, buffers) : reply.result;
    this.settle(reply.id, { status: "ok", result });
  }
}
