import { describe, expect, it, vi } from "vitest";
import { KERNEL_GONE, Router } from "../lib/router";
import { FakeModel } from "./fake_model";

describe("Router", () => {
  it("sends requests with increasing ids and a type, and matches replies by id", async () => {
    const model = new FakeModel();
    const router = new Router(model);
    const first = router.request("a", { x: 1 });
    const second = router.request("b");
    expect(model.sent.map((m) => [m.kind, m.id, m.type])).toEqual([
      ["request", `${router.prefix}-1`, "a"],
      ["request", `${router.prefix}-2`, "b"],
    ]);
    model.reply({ kind: "reply", id: `${router.prefix}-2`, ok: true, result: "two" });
    model.reply({ kind: "reply", id: `${router.prefix}-1`, ok: false, error: "bad input" });
    expect(await second).toEqual({ status: "ok", result: "two" });
    expect(await first).toEqual({ status: "error", error: "bad input" });
  });

  it("reports a late reply to an older request of the same type as stale", async () => {
    const model = new FakeModel();
    const router = new Router(model);
    const older = router.latest("set_prompt", { prompt: "old" });
    const newer = router.latest("set_prompt", { prompt: "new" });
    model.reply({ kind: "reply", id: `${router.prefix}-2`, ok: true, result: "new result" });
    model.reply({ kind: "reply", id: `${router.prefix}-1`, ok: true, result: "old result" });
    expect(await newer).toEqual({ status: "ok", result: "new result" });
    expect(await older).toEqual({ status: "stale" });
  });

  it("does not let an older error overwrite a newer request", async () => {
    const model = new FakeModel();
    const router = new Router(model);
    const older = router.latest("set_prompt");
    const newer = router.latest("set_prompt");
    model.reply({ kind: "reply", id: `${router.prefix}-1`, ok: false, error: "old failure" });
    model.reply({ kind: "reply", id: `${router.prefix}-2`, ok: true, result: 1 });
    expect(await older).toEqual({ status: "stale" });
    expect((await newer).status).toBe("ok");
  });

  it("treats a request the kernel stopped for a newer one of another type as stale, not an error", async () => {
    const model = new FakeModel();
    const router = new Router(model);
    const prompt = router.latest("set_prompt", { prompt: "long" });
    const target = router.latest("set_target", { position: 3 });
    model.reply({ kind: "reply", id: `${router.prefix}-1`, ok: false, superseded: true, error: "superseded by a newer request" });
    model.reply({ kind: "reply", id: `${router.prefix}-2`, ok: true, result: 3 });
    expect(await prompt).toEqual({ status: "stale" });
    expect(await target).toEqual({ status: "ok", result: 3 });
  });

  it("puts binary buffers back into the result", async () => {
    const model = new FakeModel();
    const router = new Router(model);
    const pending = router.request("values");
    const view = new DataView(new Float32Array([7]).buffer);
    model.reply({ kind: "reply", id: `${router.prefix}-1`, ok: true, result: { values: { view: null } }, buffer_paths: [["values", "view"]] }, [view]);
    const outcome = await pending;
    expect(outcome.status).toBe("ok");
    expect(((outcome as any).result.values.view as DataView).getFloat32(0, true)).toBe(7);
  });

  it("ignores messages that are not replies", async () => {
    const model = new FakeModel();
    const router = new Router(model);
    const pending = router.request("a");
    model.reply({ kind: "something else", id: `${router.prefix}-1` });
    model.reply({ kind: "reply", id: `${router.prefix}-1`, ok: true, result: 5 });
    expect(await pending).toEqual({ status: "ok", result: 5 });
  });

  it("gives two routers different ids, so one never takes the other's reply", async () => {
    const model = new FakeModel();
    const first = new Router(model);
    const second = new Router(model);
    expect(first.prefix).not.toBe(second.prefix);
    const mine = first.request("a");
    const theirs = second.request("a");
    const [sentFirst, sentSecond] = model.sent.map((m) => m.id);
    expect(sentFirst).not.toBe(sentSecond);
    model.reply({ kind: "reply", id: sentSecond, ok: true, result: "second's" });
    expect(second.waiting).toBe(0);
    expect(first.waiting).toBe(1);
    model.reply({ kind: "reply", id: sentFirst, ok: true, result: "first's" });
    expect(await mine).toEqual({ status: "ok", result: "first's" });
    expect(await theirs).toEqual({ status: "ok", result: "second's" });
  });

  it("says the kernel is gone when a request cannot be sent", async () => {
    const model = new FakeModel();
    model.send = () => {
      throw new Error("Cannot send");
    };
    const router = new Router(model);
    expect(await router.latest("set_prompt")).toEqual({ status: "error", error: KERNEL_GONE });
    expect(router.waiting).toBe(0);
  });

  it("times out a request that gets no reply, and ignores the late reply", async () => {
    vi.useFakeTimers();
    try {
      const model = new FakeModel();
      const router = new Router(model, 5);
      const pending = router.latest("set_prompt");
      vi.advanceTimersByTime(4999);
      expect(router.waiting).toBe(1);
      vi.advanceTimersByTime(1);
      const outcome = await pending;
      expect(outcome.status).toBe("error");
      expect((outcome as { error: string }).error).toMatch(/No reply from the kernel after 5 s/);
      model.reply({ kind: "reply", id: model.sent[0].id, ok: true, result: 1 });
      expect(router.waiting).toBe(0);
    } finally {
      vi.useRealTimers();
    }
  });
});
