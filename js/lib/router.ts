// Requests to the kernel: each carries an id and a type; each reply carries the same id and
// either a result or an error. For requests made through `latest`, only the reply to the newest
// request of that type reaches the view: an older reply arriving late is reported as stale.
import { restoreBuffers } from "./codec";

export type Outcome<T = unknown> =
  | { status: "ok"; result: T }
  | { status: "error"; error: string }
  | { status: "stale" };

type Pending = { resolve: (outcome: Outcome) => void; type: string; generation: number | null };

export interface ModelLike {
  send(content: unknown, callbacks?: unknown, buffers?: ArrayBuffer[]): void;
  on(event: string, handler: (...args: any[]) => void): void;
  off?(event: string, handler: (...args: any[]) => void): void;
}

export type Reply = {
  kind: "reply";
  id: number;
  ok: boolean;
  result?: unknown;
  error?: string;
  buffer_paths?: (string | number)[][];
};

export class Router {
  private nextId = 1;
  private pending = new Map<number, Pending>();
  private newest = new Map<string, number>();
  private readonly onMessage: (msg: unknown, buffers?: (DataView | ArrayBuffer)[]) => void;

  constructor(private model: ModelLike) {
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

  dispose(): void {
    this.model.off?.("msg:custom", this.onMessage);
    for (const pending of this.pending.values()) pending.resolve({ status: "stale" });
    this.pending.clear();
  }

  private send(type: string, payload: unknown, generation: number | null): Promise<Outcome> {
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.pending.set(id, { resolve, type, generation });
      this.model.send({ kind: "request", id, type, payload });
    });
  }

  receive(msg: unknown, buffers: (DataView | ArrayBuffer)[]): void {
    const reply = msg as Reply;
    if (!reply || reply.kind !== "reply") return;
    const pending = this.pending.get(reply.id);
    if (!pending) return;
    this.pending.delete(reply.id);
    if (pending.generation !== null && pending.generation !== this.newest.get(pending.type)) {
      pending.resolve({ status: "stale" });
      return;
    }
    if (!reply.ok) {
      pending.resolve({ status: "error", error: reply.error ?? "unknown error" });
      return;
    }
    const result = reply.buffer_paths?.length ? restoreBuffers(reply.result, reply.buffer_paths, buffers) : reply.result;
    pending.resolve({ status: "ok", result });
  }
}
