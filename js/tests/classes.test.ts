import { describe, expect, it } from "vitest";

// Each widget's root carries a class naming the widget (`frame("iw-patching")`, `"iw-root
// iw-histogram"`), which its styles and the browser tests select on. One stylesheet serves every
// widget, so a part of another widget made with that class takes on its rules: the dashboard's
// activation bars once took the histogram chart's class and squeezed that chart to 80 px.
// The sources, read as text by vite's glob import: { "../patching.ts": "...", ... }.
declare global {
  interface ImportMeta {
    glob(pattern: string, options: { query: string; import: string; eager: true }): Record<string, string>;
  }
}
const entrySources = import.meta.glob("../*.ts", { query: "?raw", import: "default", eager: true });
const libSources = import.meta.glob("../lib/*.ts", { query: "?raw", import: "default", eager: true });
const entries = Object.keys(entrySources);
const sources = [...Object.entries(entrySources), ...Object.entries(libSources)].map(([file, text]) => ({ file, text }));

function rootClasses(text: string): string[] {
  const framed = [...text.matchAll(/frame\("([^"]+)"\)/g)].map((m) => m[1]);
  const rooted = [...text.matchAll(/"iw-root ([^"]+)"/g)].flatMap((m) => m[1].split(/\s+/));
  return [...framed, ...rooted];
}

function classesMade(text: string): string[] {
  return [...text.matchAll(/element\(\s*"[a-z0-9]+"\s*,\s*"([^"]+)"/g)].flatMap((m) => m[1].split(/\s+/));
}

describe("widget root classes", () => {
  const roots = entries.flatMap((file) => rootClasses(entrySources[file]).map((name) => ({ name, file })));

  it("are found for every widget", () => {
    expect(roots.length).toBeGreaterThanOrEqual(12);
  });

  it("name one widget and nothing else", () => {
    const clashes = roots.flatMap(({ name, file }) =>
      sources.filter((s) => s.file !== file && (classesMade(s.text).includes(name) || rootClasses(s.text).includes(name))).map((s) => `${name} (${file}) also in ${s.file}`),
    );
    expect(clashes).toEqual([]);
  });
});
