import { describe, expect, it } from "vitest";
import { SHARED_COMPONENTS, THEME_CONTEXTS, stylesheet } from "../lib/style";

// Scoped CSS: every selector of the one stylesheet starts with its widget's root class or with a
// documented shared component (see js/lib/style.ts), so a class one widget picks cannot restyle
// another (`.iw-target { display: flex }`, meant for the logit lens's form, once stretched the
// target token of the ablation explorer and the dashboard into a full-width bar).
declare global {
  interface ImportMeta {
    glob(pattern: string, options: { query: string; import: string; eager: true }): Record<string, string>;
  }
}
const entrySources = import.meta.glob("../*.ts", { query: "?raw", import: "default", eager: true });
const libSources = import.meta.glob("../lib/*.ts", { query: "?raw", import: "default", eager: true });

/** Each widget's root class: `frame("iw-patching")` or `element("div", "iw-root iw-histogram")`. */
function widgetRoots(): string[] {
  return Object.values(entrySources).flatMap((text) => [
    ...[...text.matchAll(/frame\("([^"]+)"[,)]/g)].map((m) => m[1]),
    ...[...text.matchAll(/"iw-root ([^"]+)"/g)].flatMap((m) => m[1].split(/\s+/)),
  ]);
}

/** Every selector of a stylesheet (comments removed, selector lists split at top-level commas). */
function selectors(css: string): string[] {
  const text = css.replace(/\/\*[\s\S]*?\*\//g, "");
  expect(text).not.toContain("@"); // at-rules (@media) would need the parser to recurse
  return [...text.matchAll(/([^{}]+)\{[^{}]*\}/g)].flatMap((m) => splitTopLevel(m[1]).map((s) => s.trim()).filter(Boolean));
}

function splitTopLevel(list: string): string[] {
  const parts: string[] = [];
  let depth = 0, start = 0;
  for (let i = 0; i < list.length; i++) {
    const c = list[i];
    if (c === "(" || c === "[") depth++;
    else if (c === ")" || c === "]") depth--;
    else if (c === "," && depth === 0) { parts.push(list.slice(start, i)); start = i + 1; }
  }
  parts.push(list.slice(start));
  return parts;
}

/** The selectors that start with neither a widget root nor a shared component (after a theme context). */
function unscoped(css: string, roots: string[], shared: readonly string[] = SHARED_COMPONENTS): string[] {
  const allowed = (name: string) => roots.includes(name) || shared.some((s) => (s.endsWith("*") ? name.startsWith(s.slice(0, -1)) : name === s));
  return selectors(css).filter((selector) => {
    let rest = selector;
    for (const context of THEME_CONTEXTS) if (rest.startsWith(context + " ")) rest = rest.slice(context.length).trim();
    const first = /^\.([a-z0-9-]+)/.exec(rest);
    return !first || !allowed(first[1]);
  });
}

/** A view's own rules: its entry's `export const STYLE = \`...\``, and the root class its `frame("...", STYLE)` names. */
function viewStyles(): { root: string; css: string }[] {
  return Object.values(entrySources).flatMap((text) => {
    const css = /export const STYLE = `([^`]*)`/.exec(text);
    const root = /frame\("([^"]+)", STYLE\)/.exec(text);
    return css ? [{ root: root ? root[1] : "(STYLE not passed to frame)", css: css[1] }] : [];
  });
}

/** Classes a source makes (element(tag, "a b"), classList.add("a"), "iw-..." string literals). */
function classesIn(text: string): Set<string> {
  return new Set([...text.matchAll(/["'`\s](iw-[a-z0-9-]+)/g)].map((m) => m[1]));
}

describe("scoped CSS", () => {
  const roots = widgetRoots();

  it("knows every widget's root class", () => {
    expect(roots.length).toBeGreaterThanOrEqual(12);
    expect(roots).toContain("iw-logit-lens");
  });

  it("every selector starts with a widget's root class or a shared component", () => {
    const css = stylesheet();
    expect(selectors(css).length).toBeGreaterThan(100);
    expect(unscoped(css, roots)).toEqual([]);
  });

  it("fails on a class one widget picked for itself, the .iw-target bug", () => {
    expect(unscoped(".iw-target { display: flex; flex: 0 1 180px; }", roots)).toEqual([".iw-target"]);
    expect(unscoped(".iw-token.iw-target { outline: 2px solid; }\n.iw-logit-lens .iw-lens-target, div { x: y; }", roots)).toEqual(["div"]);
    expect(unscoped('body.vscode-dark .iw-root { x: y; }\nbody.vscode-dark .iw-lens-grid { x: y; }', roots)).toEqual(["body.vscode-dark .iw-lens-grid"]);
  });

  it("a view's own rules (its entry's STYLE) all start with that view's root class", () => {
    const styles = viewStyles();
    expect(styles.map((s) => s.root)).toContain("iw-positional-embeddings");
    for (const { root, css } of styles) {
      expect(selectors(css).length).toBeGreaterThan(0);
      expect(unscoped(css, [root], [])).toEqual([]); // not even a shared component: those are styled in lib/style.ts
    }
    expect(unscoped(".iw-positional-embeddings .a { x: y; }\n.iw-token { x: y; }", ["iw-positional-embeddings"], [])).toEqual([".iw-token"]);
  });

  it("a shared component is shared: made by js/lib or by at least two widgets, and no widget's root", () => {
    const lib = Object.entries(libSources).filter(([file]) => !file.endsWith("/style.ts")).map(([, text]) => classesIn(text));
    const entries = Object.values(entrySources).map(classesIn);
    const notShared = SHARED_COMPONENTS.filter((name) => !name.endsWith("*")).filter(
      (name) => roots.includes(name) || (!lib.some((made) => made.has(name)) && entries.filter((made) => made.has(name)).length < 2),
    );
    expect(notShared).toEqual([]);
  });

});
