// One stylesheet for every widget. Colours come from JupyterLab's theme variables (with VS Code's
// and plain fallbacks), so dark mode follows the theme without any JS.
//
// Scope: one stylesheet serves every widget on the page, so a class one widget picks for itself
// must never restyle another. Every selector therefore starts with
//   - its widget's root class, the one its frame() gets (`.iw-logit-lens .iw-lens-target {...}`), or
//   - a class from SHARED_COMPONENTS below: the parts js/lib draws for every widget, or that several
//     widgets draw alike (a token, a button, a bar row); a modifier on them (`.iw-token.iw-target`)
//     then means the same in every widget,
// optionally after one of THEME_CONTEXTS. js/tests/style.test.ts fails on any other selector. (The
// logit lens's target form was once `.iw-target { display: flex }` and drew the target token of the
// ablation explorer and the dashboard as a full-width bar.) Add a class here only if it is shared.

import { colorClassRules } from "./colors";
import { NEGATIVE_RGB, NEGATIVE_RGB_DARK, POSITIVE_RGB, POSITIVE_RGB_DARK, rgb } from "./palette";

/** Classes that a rule may start with besides a widget's root class; `iw-c-*` is the colour-class family. */
export const SHARED_COMPONENTS: readonly string[] = [
  "iw-root", // every widget's root element; holds the theme variables
  "iw-toolbar", "iw-title", "iw-button", "iw-prompt", "iw-prompt-input", "iw-status", "iw-caption", "iw-number", "iw-check",
  "iw-error", "iw-linked-error", "iw-stale-note", // banners and notes (lib/dom.ts, lib/widget.ts)
  "iw-tokens", "iw-token", // token text (lib/tokens.ts): modifiers iw-selected, iw-target, [tabindex]
  "iw-legend", "iw-legend-item", "iw-row-label", "iw-color-bar", "iw-line-key", // lib/legend.ts
  "iw-charts", "iw-chart", "iw-chart-title", "iw-scale-toggle", "iw-readout", "iw-axis-label", // lib/chart.ts
  "iw-bars", "iw-bar-row", "iw-bar-label", "iw-bar-track", "iw-bar-fill", "iw-bar-value", "iw-bar-negative", // lib/bars.ts
  "iw-grid-scroll", "iw-score-table", "iw-score-row", "iw-sortable", // sortable tables
  "iw-tooltip-host", "iw-tooltip", // lib/dom.ts
  "iw-save-menu", "iw-save-button", "iw-save-popup", "iw-save-status", // lib/save_menu.ts: every view's save-as-picture menu
  "iw-c-*", // token colours (lib/colors.ts colorClassRules)
];

/** Page-level contexts a selector may start with before its scoped part: the dark themes. */
export const THEME_CONTEXTS: readonly string[] = [
  'body[data-jp-theme-light="false"]', "body.vscode-dark", "body.vscode-high-contrast", 'html[theme="dark"]',
];

const CSS = `
/* ---- shared components (SHARED_COMPONENTS) ---- */
.iw-root {
  --iw-fg: var(--jp-ui-font-color1, var(--vscode-editor-foreground, #1f1f1f));
  --iw-fg-muted: var(--jp-ui-font-color2, var(--vscode-descriptionForeground, #616161));
  --iw-bg: var(--jp-layout-color0, var(--vscode-editor-background, #ffffff));
  --iw-bg-raised: var(--jp-layout-color2, var(--vscode-editorWidget-background, #eeeeee));
  --iw-border: var(--jp-border-color1, var(--vscode-panel-border, #bdbdbd));
  --iw-accent: var(--jp-brand-color1, var(--vscode-focusBorder, #1976d2));
  --iw-error-bg: var(--jp-error-color3, #fdecea);
  --iw-error-fg: var(--jp-error-color0, #b71c1c);
  --iw-negative: ${rgb(NEGATIVE_RGB)};
  --iw-positive: ${rgb(POSITIVE_RGB)};
  color: var(--iw-fg);
  font-family: var(--jp-ui-font-family, system-ui, sans-serif);
  font-size: var(--jp-ui-font-size1, 13px);
  padding: 4px 0;
}
/* Dark themes (JupyterLab, VS Code, Colab): lighter hues, as legible as on white. */
body[data-jp-theme-light="false"] .iw-root, body.vscode-dark .iw-root, body.vscode-high-contrast .iw-root, html[theme="dark"] .iw-root {
  --iw-negative: ${rgb(NEGATIVE_RGB_DARK)};
  --iw-positive: ${rgb(POSITIVE_RGB_DARK)};
}
.iw-root [hidden] { display: none !important; }
.iw-toolbar { display: flex; flex-wrap: wrap; gap: 6px; align-items: center; margin-bottom: 6px; }
.iw-title { font-weight: 600; margin-right: 8px; }
.iw-button {
  color: var(--iw-fg); background: var(--iw-bg-raised); border: 1px solid var(--iw-border);
  border-radius: 3px; padding: 2px 8px; cursor: pointer; font: inherit;
}
.iw-button[aria-pressed="true"] {
  background: var(--iw-accent); border-color: var(--iw-accent); color: var(--jp-ui-inverse-font-color1, #ffffff); font-weight: 600;
}
.iw-button:focus-visible { outline: 2px solid var(--iw-accent); outline-offset: 1px; }
.iw-prompt { display: flex; gap: 4px; flex: 1 1 320px; }
.iw-prompt-input {
  flex: 1; color: var(--iw-fg); background: var(--iw-bg); border: 1px solid var(--iw-border);
  border-radius: 3px; padding: 2px 6px; font-family: var(--jp-code-font-family, monospace); font-size: inherit;
}
.iw-status { color: var(--iw-fg-muted); font-style: italic; }
.iw-save-menu { margin-left: auto; display: inline-flex; gap: 4px; align-items: center; position: relative; }
.iw-save-button { padding: 0 6px; line-height: 1.4; }
.iw-save-popup { display: inline-flex; gap: 4px; }
.iw-save-status { color: var(--iw-fg-muted); font-style: italic; }
.iw-error, .iw-linked-error {
  background: var(--iw-error-bg); color: var(--iw-error-fg); border-radius: 3px;
  padding: 4px 8px; margin: 4px 0; white-space: pre-wrap; font-family: var(--jp-code-font-family, monospace);
}
.iw-tokens { font-family: var(--jp-code-font-family, monospace); line-height: 1.9; word-break: break-all; }
.iw-token {
  padding: 1px 1px; margin: 0 1px 0 0; border-radius: 2px; cursor: default;
  white-space: pre; border: 1px solid transparent;
}
.iw-token:hover, .iw-token.iw-selected { border-color: var(--iw-fg); }
.iw-legend { display: flex; gap: 6px; align-items: center; margin-top: 6px; color: var(--iw-fg-muted); }
.iw-stale-note { color: var(--iw-fg-muted); font-style: italic; margin: 2px 0 4px; }
.iw-charts { display: flex; flex-wrap: wrap; gap: 8px; }
.iw-chart { display: inline-flex; flex-direction: column; }
.iw-chart-title { font-weight: 600; display: flex; gap: 8px; align-items: center; }
.iw-scale-toggle { font-size: 0.85em; padding: 0 6px; font-weight: normal; }
.iw-readout { color: var(--iw-fg-muted); font-family: var(--jp-code-font-family, monospace); font-size: 0.9em; min-height: 1.3em; max-width: 440px; }
.iw-axis-label { fill-opacity: 0.9; }
.iw-check { display: inline-flex; align-items: center; gap: 2px; color: var(--iw-fg-muted); }
.iw-grid-scroll { overflow-x: auto; max-width: 100%; }
.iw-bars { margin-top: 6px; max-width: 460px; }
.iw-bar-row { display: grid; grid-template-columns: 9em 1fr 4em; gap: 6px; align-items: center; }
.iw-bar-label { font-family: var(--jp-code-font-family, monospace); white-space: pre; overflow: hidden; text-overflow: ellipsis; }
.iw-bar-track { background: var(--iw-bg-raised); height: 10px; border-radius: 2px; }
.iw-bar-fill { display: block; height: 100%; background: var(--iw-positive); border-radius: 2px; }
.iw-bar-value { color: var(--iw-fg-muted); text-align: right; }
.iw-bar-negative { background: var(--iw-negative); }
.iw-row-label { color: var(--iw-fg-muted); font-size: 0.85em; margin: 6px 0 0; }
.iw-token.iw-target { outline: 2px solid var(--iw-accent); }
.iw-token[tabindex] { cursor: pointer; }
.iw-token[tabindex]:focus-visible { outline: 2px solid var(--iw-accent); }
.iw-number { width: 6em; }
.iw-score-table { border-collapse: collapse; margin-top: 8px; font-size: 0.85em; font-family: var(--jp-code-font-family, monospace); }
.iw-score-table th, .iw-score-table td { padding: 1px 6px; text-align: right; }
.iw-sortable { cursor: pointer; text-decoration: underline dotted; }
.iw-score-row { cursor: pointer; }
.iw-score-row.iw-selected th { color: var(--iw-accent); font-weight: 600; }
.iw-legend-item { margin-right: 10px; }
.iw-color-bar, .iw-line-key { flex-wrap: wrap; font-size: 0.85em; max-width: 640px; }
.iw-color-bar .iw-legend-bar { width: 120px; height: 10px; border: 1px solid var(--iw-border); border-radius: 2px; flex: none; }
.iw-line-key svg { vertical-align: middle; }
.iw-caption { color: var(--iw-fg-muted); }
.iw-tooltip-host { position: relative; }
.iw-tooltip[popover] { position: fixed; inset: auto; margin: 0; overflow: visible; }
.iw-tooltip {
  position: absolute; z-index: 1000; pointer-events: none; background: var(--iw-bg-raised); color: var(--iw-fg);
  border: 1px solid var(--iw-border); border-radius: 3px; padding: 4px 8px; box-shadow: 0 2px 6px rgba(0,0,0,0.25);
  font-family: var(--jp-code-font-family, monospace); white-space: pre;
}

/* ---- each widget's own parts: every rule starts with the widget's root class ---- */
.iw-token-highlights .iw-legend-scale { font-size: 0.9em; }
.iw-token-highlights .iw-stale { opacity: 0.55; outline: 1px dashed var(--iw-fg-muted); outline-offset: 2px; }
.iw-token-highlights .iw-legend-bar { width: 160px; height: 10px; border: 1px solid var(--iw-border); border-radius: 2px; }
.iw-residual-norms .iw-fits { margin: 2px 0 6px; }
.iw-logit-lens .iw-lens-target { display: flex; flex: 0 1 180px; }
.iw-logit-lens .iw-lens-grid { border-collapse: collapse; font-family: var(--jp-code-font-family, monospace); font-size: 0.85em; }
.iw-logit-lens .iw-lens-grid th { font-weight: normal; color: var(--iw-fg-muted); padding: 1px 4px; white-space: pre; text-align: right; }
.iw-logit-lens .iw-lens-cell { padding: 1px 4px; white-space: pre; max-width: 7em; overflow: hidden; text-overflow: ellipsis; border: 1px solid transparent; cursor: pointer; }
.iw-logit-lens .iw-lens-cell:hover, .iw-logit-lens .iw-lens-cell:focus-visible, .iw-logit-lens .iw-lens-cell.iw-selected { border-color: var(--iw-fg); outline: none; }
.iw-logit-lens .iw-kl-cell { padding: 1px 6px; font-size: 0.85em; text-align: right; border-left: 2px solid var(--iw-border); }
.iw-logit-lens-bars .iw-bar-row.iw-clickable { cursor: pointer; border-radius: 2px; }
.iw-logit-lens-bars .iw-bar-row.iw-clickable:hover, .iw-logit-lens-bars .iw-bar-row.iw-clickable:focus-visible, .iw-logit-lens-bars .iw-bar-row.iw-selected { outline: 1px solid var(--iw-fg); }
.iw-feature-ablation .iw-token.iw-removed { text-decoration: line-through; opacity: 0.6; outline: 1px dashed var(--iw-fg-muted); }
.iw-feature-ablation .iw-token.iw-after { opacity: 0.35; }
.iw-feature-ablation .iw-pairs { border-collapse: collapse; margin-top: 4px; font-size: 0.85em; font-family: var(--jp-code-font-family, monospace); }
.iw-feature-ablation .iw-pairs th, .iw-feature-ablation .iw-pairs td { padding: 1px 6px; text-align: right; white-space: pre; }
.iw-feature-ablation .iw-mode-note { color: var(--iw-fg-muted); font-size: 0.85em; }
.iw-patching .iw-pair { flex-wrap: wrap; gap: 4px; }
.iw-patching .iw-heatmap { display: grid; gap: 1px; font-family: var(--jp-code-font-family, monospace); font-size: 0.8em; align-items: end; }
.iw-patching .iw-heat-col { writing-mode: vertical-rl; transform: rotate(180deg); white-space: pre; color: var(--iw-fg-muted); max-height: 9em; overflow: hidden; }
.iw-patching .iw-heat-col.iw-differs { color: var(--iw-accent); font-weight: 600; }
.iw-patching .iw-heat-row { color: var(--iw-fg-muted); padding-right: 4px; text-align: right; }
.iw-patching .iw-heat-cell { min-height: 1.4em; cursor: pointer; border: 1px solid transparent; }
.iw-patching .iw-heat-cell:hover, .iw-patching .iw-heat-cell:focus-visible, .iw-patching .iw-heat-cell.iw-selected { border-color: var(--iw-fg); outline: none; }
.iw-patching .iw-warnings { color: var(--iw-error-fg); margin: 2px 0; padding-left: 1.2em; }
.iw-feature-dashboard .iw-examples { margin-top: 4px; }
.iw-feature-dashboard .iw-example { display: flex; gap: 8px; align-items: baseline; cursor: pointer; border-radius: 2px; padding: 1px 2px; }
.iw-feature-dashboard .iw-example:hover, .iw-feature-dashboard .iw-example:focus-visible { outline: 1px solid var(--iw-fg); }
.iw-feature-dashboard .iw-example-value { color: var(--iw-fg-muted); font-family: var(--jp-code-font-family, monospace); min-width: 4.5em; text-align: right; }
.iw-feature-dashboard .iw-activation-histogram { display: flex; align-items: flex-end; gap: 1px; height: 80px; border-bottom: 1px solid var(--iw-border); }
.iw-feature-dashboard .iw-activation-bar { flex: 1 1 0; background: var(--iw-positive); min-width: 2px; }
.iw-feature-browser .iw-feature-table td.iw-top-tokens { text-align: left; white-space: pre; }
.iw-feature-browser .iw-result { cursor: pointer; }
.iw-feature-browser .iw-grid-scroll { max-height: 420px; overflow-y: auto; }
.iw-feature-browser .iw-toolbar .iw-prompt-input { flex: 1 1 auto; min-width: 19em; }
.iw-feature-browser .iw-toolbar .iw-number { flex: 0 0 auto; min-width: 9em; }
.iw-feature-browser .iw-result:hover, .iw-feature-browser .iw-result:focus-visible { text-decoration: underline; }
.iw-attention .iw-thumbs { display: flex; flex-wrap: wrap; gap: 6px; margin: 6px 0; }
.iw-attention .iw-thumb { display: flex; flex-direction: column; align-items: center; gap: 2px; padding: 3px; background: none;
  border: 1px solid var(--iw-border); border-radius: 3px; color: var(--iw-fg-muted); cursor: pointer; font: inherit; font-size: 0.85em; }
.iw-attention .iw-thumb[aria-pressed="true"] { border-color: var(--iw-accent); box-shadow: 0 0 0 1px var(--iw-accent); color: var(--iw-fg); }
.iw-attention .iw-thumb canvas { width: 72px; height: 72px; image-rendering: pixelated; background: var(--iw-bg); }
.iw-attention .iw-attention-main { display: flex; gap: 12px; align-items: flex-start; flex-wrap: wrap; }
.iw-attention .iw-pattern-large { max-width: 420px; image-rendering: pixelated; border: 1px solid var(--iw-border); cursor: crosshair; }
.iw-attention .iw-attention-side { flex: 1 1 300px; min-width: 240px; }
.iw-attention .iw-score-notes { color: var(--iw-fg-muted); }
.iw-circuit .iw-circuit-pair { flex-wrap: wrap; gap: 4px; }
.iw-circuit .iw-circuit-answer { flex: 0 1 7em; min-width: 4em; }
.iw-circuit .iw-circuit-main { display: flex; gap: 12px; align-items: flex-start; flex-wrap: wrap; max-width: 980px; }
.iw-circuit .iw-circuit-graph { flex: 0 1 600px; overflow: hidden; }
.iw-circuit .iw-circuit-svg { max-width: 100%; height: auto; background: var(--iw-bg); }
.iw-circuit .iw-circuit-side { flex: 1 1 320px; min-width: 260px; }
.iw-circuit .iw-circuit-edge { cursor: pointer; stroke-opacity: 0.7; stroke-linecap: round; }
.iw-circuit .iw-circuit-edge:hover, .iw-circuit .iw-circuit-edge.iw-selected { stroke-opacity: 1; stroke: var(--iw-fg); }
.iw-circuit .iw-circuit-positive { stroke: var(--iw-positive); }
.iw-circuit .iw-circuit-negative { stroke: var(--iw-negative); }
.iw-circuit .iw-circuit-node { fill: var(--iw-fg-muted); fill-opacity: 0.5; }
.iw-circuit .iw-circuit-node.iw-circuit-used { fill: var(--iw-fg); fill-opacity: 1; }
.iw-circuit .iw-circuit-label { fill: var(--iw-fg); font-size: 10px; font-family: var(--jp-code-font-family, monospace); }
.iw-circuit .iw-circuit-slider-row { display: flex; gap: 6px; align-items: center; flex-wrap: wrap; }
.iw-circuit .iw-circuit-slider { flex: 1 1 180px; accent-color: var(--iw-accent); }
.iw-circuit .iw-circuit-size { font-family: var(--jp-code-font-family, monospace); }
.iw-circuit .iw-circuit-weight { fill: var(--iw-accent); }
.iw-circuit .iw-circuit-pattern-grid { border: 1px solid var(--iw-border); background: var(--iw-bg); max-width: 100%; height: auto; }
.iw-circuit .iw-circuit-list { font-family: var(--jp-code-font-family, monospace); font-size: 0.9em; columns: 2; margin: 6px 0; }
.iw-circuit .iw-circuit-row { cursor: pointer; white-space: pre; }
.iw-circuit .iw-circuit-row:hover, .iw-circuit .iw-circuit-row:focus-visible { color: var(--iw-accent); outline: none; }
.iw-steering .iw-steer-row { display: flex; flex-wrap: wrap; gap: 6px; align-items: center; margin: 2px 0; }
.iw-steering .iw-steer-label { font-family: var(--jp-code-font-family, monospace); }
.iw-steering .iw-steer-slider { flex: 1 1 220px; max-width: 360px; accent-color: var(--iw-accent); }
.iw-steering .iw-steer-value { font-family: var(--jp-code-font-family, monospace); min-width: 5em; }
.iw-steering select, .iw-steering input[type="number"] { color: var(--iw-fg); background: var(--iw-bg); border: 1px solid var(--iw-border); border-radius: 3px; font: inherit; }
.iw-steering .iw-steer-columns { display: grid; grid-template-columns: repeat(auto-fit, minmax(260px, 1fr)); gap: 12px; }
.iw-steering .iw-steer-column { border: 1px solid var(--iw-border); border-radius: 3px; padding: 2px 6px; min-width: 0; }
.iw-steering .iw-steer-steered { border-color: var(--iw-accent); }
.iw-steering .iw-token.iw-steer-diverge { outline: 2px solid var(--iw-accent); outline-offset: 1px; }
.iw-steering.iw-steer-generating .iw-steer-steered { border-style: dashed; }
.iw-steering .iw-steer-multiples { display: grid; grid-template-columns: repeat(auto-fill, minmax(200px, 1fr)); gap: 6px; margin-top: 6px; }
.iw-steering .iw-steer-card { border: 1px solid var(--iw-border); border-radius: 3px; padding: 2px 6px; background: var(--iw-bg-raised); }
.iw-steering .iw-steer-card-text { font-family: var(--jp-code-font-family, monospace); font-size: 0.85em; white-space: pre-wrap; word-break: break-all; }
.iw-superposition-toy .iw-toy-slider { display: inline-flex; gap: 4px; align-items: center; }
.iw-superposition-toy .iw-toy-slider input { width: 110px; accent-color: var(--iw-accent); }
.iw-superposition-toy .iw-toy-value { font-family: var(--jp-code-font-family, monospace); min-width: 3.5em; }
.iw-superposition-toy .iw-toy-directions, .iw-superposition-toy .iw-toy-phase svg { color: var(--iw-fg); }
.iw-superposition-toy .iw-toy-norm-row { font-family: var(--jp-code-font-family, monospace); font-size: 0.9em; white-space: nowrap; }
.iw-superposition-toy .iw-toy-norm-label { display: inline-block; min-width: 2em; text-align: right; }
.iw-graph-view .iw-graph-canvas { display: block; border: 1px solid var(--iw-border); border-radius: 3px; cursor: crosshair; touch-action: none; }
.iw-graph-view .iw-graph-tokens { position: relative; height: 1.6em; overflow: hidden; font-family: var(--jp-code-font-family, monospace); font-size: 0.8em; }
.iw-graph-view .iw-graph-token { position: absolute; transform: translateX(-50%); white-space: pre; color: var(--iw-fg-muted); }
.iw-graph-view .iw-graph-legend { display: flex; flex-wrap: wrap; gap: 10px; align-items: center; margin: 2px 0; }
.iw-graph-view .iw-graph-swatch { display: inline-block; width: 8px; height: 8px; vertical-align: middle; }
.iw-graph-view .iw-graph-pins { display: flex; flex-wrap: wrap; gap: 6px; align-items: center; margin: 4px 0; }
.iw-graph-view .iw-graph-pins > .iw-caption:first-child { flex-basis: 100%; }
.iw-graph-view .iw-graph-why-form { display: flex; flex-wrap: wrap; gap: 6px; align-items: center; margin: 4px 0; }
.iw-graph-view .iw-graph-why .iw-button { font-family: monospace; white-space: pre; }
.iw-graph-view input { color: var(--iw-fg); background: var(--iw-bg); border: 1px solid var(--iw-border); border-radius: 3px; font: inherit; }
.iw-graph-view .iw-number { width: 5em; }
.iw-graph-view .iw-graph-intervention td { font-family: var(--jp-code-font-family, monospace); padding: 0 6px; text-align: right; }
.iw-graph-view .iw-graph-intervention td:first-child { text-align: left; white-space: pre; }
.iw-graph-view .iw-caption { white-space: pre-wrap; }
`;

/** The whole stylesheet: the rules above and the colour classes. */
export function stylesheet(): string {
  return CSS + colorClassRules();
}

/**
 * Add a view's own rules once, beside the shared stylesheet: its entry's `export const STYLE`, passed
 * to `frame(rootClass, STYLE)`. Every selector starts with the view's root class (js/tests/style.test.ts
 * checks), so a rule written for one view cannot restyle another.
 */
export function ensureViewStyles(rootClass: string, css: string): void {
  const id = `interp-widgets-style-${rootClass}`;
  if (!css || document.getElementById(id)) return;
  const style = document.createElement("style");
  style.id = id;
  style.textContent = css;
  document.head.appendChild(style);
}

/** Add the stylesheet to the document once (as text: nothing in it comes from data). */
export function ensureStyles(): void {
  if (document.getElementById("interp-widgets-style")) return;
  const style = document.createElement("style");
  style.id = "interp-widgets-style";
  style.textContent = stylesheet();
  document.head.appendChild(style);
}
