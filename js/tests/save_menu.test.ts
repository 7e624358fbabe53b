import { describe, expect, it } from "vitest";
import { xmlSafe } from "../lib/save_menu";

// The ⤓ menu's SVG is XML: a NUL or ESC in a title, prompt or tooltip (a graph file's prompt is
// enough) made it invalid and its PNG undecodable. xmlSafe drops what XML 1.0 forbids.
describe("xmlSafe", () => {
  it("drops C0 controls (not tab, newline, return), U+FFFE/U+FFFF and lone surrogates", () => {
    const hostile = `<div title="a\u0000b\u001b[31m">x\u0000y\u0007z\u000b\u000c\ufffe\uffff\ud800 \udc00|\t\n\r</div>`;
    expect(xmlSafe(hostile)).toBe(`<div title="ab[31m">xyz |\t\n\r</div>`);
  });

  it("keeps a surrogate pair (an emoji) and ordinary text", () => {
    const text = "caf\u00e9 \ud83d\ude00 $x$ &amp; &lt;b&gt;";
    expect(xmlSafe(text)).toBe(text);
  });

  it("drops character references to forbidden code points and keeps the others", () => {
    expect(xmlSafe("a&#0;b&#x1B;c&#x1b;d&#65;e&#x10;f&#9;g&#xD800;h&#99999999;i&#x41;")).toBe("abcd&#65;ef&#9;ghi&#x41;");
    expect(xmlSafe("&amp;#0;")).toBe("&amp;#0;"); // the text "&#0;" as serialised: not a reference
  });
});
