import { describe, expect, it } from "vitest";
import { Router } from "../lib/router";
import { setInputs } from "../lib/widget";
import { FakeModel } from "./fake_model";

function fakeBanner() {
  const shown: string[] = [];
  return { shown, banner: { node: null, show: (message: string) => shown.push(message), clear: () => shown.splice(0) } as any };
}

describe("setInputs", () => {
  it("sends the one 'set' request every widget answers, with the changed inputs as its payload", async () => {
    const model = new FakeModel();
    const router = new Router(model);
    const status = { textContent: "" as string | null };
    const { shown, banner } = fakeBanner();
    const done = setInputs(router, { prompt: "cats", target: 3 }, status, banner);
    expect(model.sent).toEqual([{ kind: "request", id: `${router.prefix}-1`, type: "set", payload: { prompt: "cats", target: 3 } }]);
    expect(status.textContent).toBe("computing\u2026");
    model.reply({ kind: "reply", id: `${router.prefix}-1`, ok: false, error: "the prompt is empty" });
    expect(await done).toBe(false);
    expect(shown).toEqual(["the prompt is empty"]);
    expect(status.textContent).toBe("");
  });

  it("a newer set makes the older one's reply stale (whatever inputs each changes)", async () => {
    const model = new FakeModel();
    const router = new Router(model);
    const status = { textContent: "" as string | null };
    const { banner } = fakeBanner();
    const older = setInputs(router, { mode: "replace" }, status, banner);
    const newer = setInputs(router, { target: 5 }, status, banner);
    model.reply({ kind: "reply", id: `${router.prefix}-1`, ok: true, result: {} });
    model.reply({ kind: "reply", id: `${router.prefix}-2`, ok: true, result: {} });
    expect(await older).toBe(null);
    expect(await newer).toBe(true);
  });
});
