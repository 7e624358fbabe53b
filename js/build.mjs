// Bundles each widget entry (js/<widget>.ts) into interp_widgets/static/<widget>.js.
// One self-contained ES module per widget: no CDN, no network at display time.
import { build } from "esbuild";
import { readdirSync } from "node:fs";

const entries = readdirSync(new URL(".", import.meta.url))
  .filter((name) => name.endsWith(".ts") && !name.endsWith(".d.ts"))
  .map((name) => `js/${name}`);

await build({
  entryPoints: entries,
  absWorkingDir: new URL("..", import.meta.url).pathname,
  outdir: "interp_widgets/static",
  bundle: true,
  format: "esm",
  target: "es2020",
  minify: true,
  sourcemap: false,
  logLevel: "info",
});
