// A small menu on every view (added by routedWidget in lib/widget.ts): save what is on screen as an
// SVG or a PNG picture, in the browser, for a paper or slides. The picture is the view's own DOM:
// cloned, with the colours and fonts the theme resolved to written onto each element (the theme's
// variables do not exist outside the notebook), canvases turned into images, typed values kept, and
// the stylesheet embedded, inside an SVG <foreignObject>. The PNG draws that SVG onto a canvas at
// twice the screen's resolution. (From Python, `view.save("fig.svg")` draws the static snapshot in
// the kernel instead; see interp_widgets/widgets/_svg.py.)
import { element } from "./dom";
import { stylesheet } from "./style";

/** Computed properties written onto the clone, so it looks the same without the notebook's theme. */
const KEPT = ["color", "background-color", "background-image", "font-family", "font-size", "font-weight", "font-style", "border-color", "fill", "stroke"];
const PNG_SCALE = 2;
const NO_SAVE = "data-iw-nosave"; // elements left out of the picture (the menu itself)

function escapeXml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/** What XML 1.0 forbids: C0 controls but tab, newline and return; U+FFFE and U+FFFF; lone surrogates. */
const XML_FORBIDDEN = /[\x00-\x08\x0B\x0C\x0E-\x1F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;
const CHARACTER_REFERENCE = /&#(?:x([0-9a-fA-F]+)|([0-9]+));/g;

function forbiddenCode(code: number): boolean {
  return (code < 0x20 && code !== 0x09 && code !== 0x0a && code !== 0x0d) || code === 0xfffe || code === 0xffff || (code >= 0xd800 && code <= 0xdfff) || code > 0x10ffff;
}

/** Serialised markup without what XML 1.0 forbids, raw or as a character reference (`&#0;`): a title,
 * prompt or token holding NUL or ESC (a graph file's prompt is enough) would make the SVG invalid
 * and the PNG undecodable. Dropped, as `view.save` does in Python (interp_widgets/widgets/_svg.py). */
export function xmlSafe(markup: string): string {
  return markup.replace(XML_FORBIDDEN, "").replace(CHARACTER_REFERENCE, (reference, hex: string | undefined, decimal: string | undefined) =>
    forbiddenCode(hex !== undefined ? parseInt(hex, 16) : Number(decimal)) ? "" : reference);
}

function copyComputedStyles(source: Element, target: Element): void {
  const computed = getComputedStyle(source);
  const style = (target as HTMLElement).style;
  if (style) for (const name of KEPT) style.setProperty(name, computed.getPropertyValue(name));
  const sourceChildren = source.children;
  const targetChildren = target.children;
  for (let i = 0; i < sourceChildren.length && i < targetChildren.length; i++) copyComputedStyles(sourceChildren[i], targetChildren[i]);
}

/** The view under `root` as a standalone SVG document, and its size in CSS pixels. */
export function viewToSvg(root: HTMLElement): { svg: string; width: number; height: number } {
  const box = root.getBoundingClientRect();
  const width = Math.ceil(Math.max(root.scrollWidth, box.width, 1));
  const height = Math.ceil(Math.max(root.scrollHeight, box.height, 1));
  const clone = root.cloneNode(true) as HTMLElement;
  copyComputedStyles(root, clone);
  const sourceCanvases = Array.from(root.querySelectorAll("canvas"));
  Array.from(clone.querySelectorAll("canvas")).forEach((canvas, i) => {
    const image = document.createElement("img");
    image.src = sourceCanvases[i].toDataURL("image/png");
    image.setAttribute("style", canvas.getAttribute("style") ?? "");
    image.width = sourceCanvases[i].clientWidth || sourceCanvases[i].width;
    image.height = sourceCanvases[i].clientHeight || sourceCanvases[i].height;
    canvas.replaceWith(image);
  });
  const sourceInputs = Array.from(root.querySelectorAll("input, textarea"));
  Array.from(clone.querySelectorAll("input, textarea")).forEach((input, i) => {
    const value = (sourceInputs[i] as HTMLInputElement).value;
    if (input instanceof HTMLTextAreaElement) input.textContent = value;
    else input.setAttribute("value", value);
  });
  clone.querySelectorAll(`[${NO_SAVE}]`).forEach((node) => node.remove());
  clone.style.setProperty("background-color", getComputedStyle(root).backgroundColor === "rgba(0, 0, 0, 0)" ? pageBackground(root) : getComputedStyle(root).backgroundColor);
  const body = xmlSafe(new XMLSerializer().serializeToString(clone));
  const svg =
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">` +
    `<foreignObject x="0" y="0" width="${width}" height="${height}">` +
    `<div xmlns="http://www.w3.org/1999/xhtml"><style>${xmlSafe(escapeXml(stylesheet()))}</style>${body}</div>` +
    `</foreignObject></svg>`;
  return { svg, width, height };
}

/** The colour behind the view (the first ancestor with one), so the picture is not transparent. */
function pageBackground(node: HTMLElement): string {
  for (let current: HTMLElement | null = node; current; current = current.parentElement) {
    const colour = getComputedStyle(current).backgroundColor;
    if (colour && colour !== "rgba(0, 0, 0, 0)" && colour !== "transparent") return colour;
  }
  return "#ffffff";
}

/** Draw an SVG document onto a canvas at PNG_SCALE and encode it as PNG. */
export async function svgToPng(svg: string, width: number, height: number): Promise<Blob> {
  const image = new Image();
  image.src = "data:image/svg+xml;charset=utf-8," + encodeURIComponent(svg);
  await image.decode();
  const canvas = document.createElement("canvas");
  canvas.width = width * PNG_SCALE;
  canvas.height = height * PNG_SCALE;
  const context = canvas.getContext("2d");
  if (!context) throw new Error("this browser cannot draw on a canvas");
  context.scale(PNG_SCALE, PNG_SCALE);
  context.drawImage(image, 0, 0, width, height);
  return new Promise((resolve, reject) => canvas.toBlob((blob) => (blob ? resolve(blob) : reject(new Error("PNG encoding failed"))), "image/png"));
}

function download(blob: Blob, filename: string): void {
  const url = URL.createObjectURL(blob);
  const link = element("a");
  link.href = url;
  link.download = filename;
  link.style.display = "none";
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** The file name: the view's own root class (`iw-token-highlights` -> `token-highlights.svg`). */
function fileName(root: HTMLElement, extension: string): string {
  const own = Array.from(root.classList).find((name) => name.startsWith("iw-") && name !== "iw-root");
  return `${(own ?? "iw-view").replace(/^iw-/, "")}.${extension}`;
}

/** Add the menu to the toolbar of the view under `el`; returns the teardown. */
export function addSaveMenu(el: HTMLElement): () => void {
  const root = el.querySelector<HTMLElement>(".iw-root");
  if (!root) return () => {};
  const menu = element("span", "iw-save-menu");
  menu.setAttribute(NO_SAVE, "");
  const toggle = element("button", "iw-button iw-save-button", "\u2913");
  toggle.title = "save this view as a picture";
  toggle.setAttribute("aria-label", "save this view as a picture");
  toggle.setAttribute("aria-haspopup", "menu");
  const popup = element("span", "iw-save-popup");
  popup.setAttribute("role", "menu");
  popup.hidden = true;
  const status = element("span", "iw-save-status");
  const choices: [string, () => Promise<void>][] = [
    ["SVG", async () => download(new Blob([viewToSvg(root).svg], { type: "image/svg+xml" }), fileName(root, "svg"))],
    ["PNG", async () => {
      const { svg, width, height } = viewToSvg(root);
      download(await svgToPng(svg, width, height), fileName(root, "png"));
    }],
  ];
  for (const [label, save] of choices) {
    const item = element("button", "iw-button", `save ${label}`);
    item.setAttribute("role", "menuitem");
    item.addEventListener("click", async () => {
      popup.hidden = true;
      status.textContent = "";
      try {
        await save();
      } catch (error) {
        status.textContent = `could not save the ${label}: ${error instanceof Error ? error.message : String(error)}`;
      }
    });
    popup.append(item);
  }
  toggle.addEventListener("click", () => {
    popup.hidden = !popup.hidden;
  });
  menu.append(toggle, popup, status);
  const toolbar = root.querySelector(".iw-toolbar") ?? root;
  toolbar.append(menu);
  return () => menu.remove();
}
