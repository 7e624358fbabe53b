import { describe, expect, it } from "vitest";
import { at, bfloat16ToFloat, decodeArray, decodeCached, halfToFloat, numbersOf, restoreBuffers, toNumbers, toRows } from "../lib/codec";

function viewOf(bytes: number[]): DataView {
  return new DataView(new Uint8Array(bytes).buffer);
}

describe("decodeArray", () => {
  it("decodes float32 little-endian bytes with their shape", () => {
    const data = new Float32Array([1.5, -2, 0.25, 8]);
    const decoded = decodeArray({ view: new DataView(data.buffer), dtype: "float32", shape: [2, 2] });
    expect(Array.from(decoded.data as Float32Array)).toEqual([1.5, -2, 0.25, 8]);
    expect(decoded.shape).toEqual([2, 2]);
  });

  it("respects the byte offset of a view into a larger buffer", () => {
    const backing = new Float32Array([99, 1, 2, 99]);
    const view = new DataView(backing.buffer, 4, 8);
    expect(Array.from(decodeArray({ view, dtype: "float32", shape: [2] }).data as Float32Array)).toEqual([1, 2]);
  });

  it("widens float16 to float32", () => {
    // 1.0 = 0x3c00, -2.5 = 0xc100, 65504 = 0x7bff (max half), 2^-24 = 0x0001 (smallest subnormal)
    const decoded = decodeArray({ view: viewOf([0x00, 0x3c, 0x00, 0xc1, 0xff, 0x7b, 0x01, 0x00]), dtype: "float16", shape: [4] });
    expect(Array.from(decoded.data as Float32Array)).toEqual([1, -2.5, 65504, 2 ** -24]);
  });

  it("widens bfloat16 to float32", () => {
    // bfloat16 1.0 = 0x3f80, -3.0 = 0xc040, 0.15625 = 0x3e20
    const decoded = decodeArray({ view: viewOf([0x80, 0x3f, 0x40, 0xc0, 0x20, 0x3e]), dtype: "bfloat16", shape: [3] });
    expect(Array.from(decoded.data as Float32Array)).toEqual([1, -3, 0.15625]);
  });

  it("reads float64, int32, uint8 and bool as typed arrays of their own kind", () => {
    const cases: [string, ArrayLike<number> & { buffer: ArrayBufferLike }, string][] = [
      ["float64", new Float64Array([1.25, -3]), "Float64Array"],
      ["int32", new Int32Array([7, -2]), "Int32Array"],
      ["uint8", new Uint8Array([255, 1]), "Uint8Array"],
      ["bool", new Uint8Array([1, 0]), "Uint8Array"],
    ];
    for (const [dtype, values, kind] of cases) {
      const decoded = decodeArray({ view: new DataView(values.buffer), dtype, shape: [2] });
      expect(decoded.data.constructor.name).toBe(kind);
      expect(Array.from(decoded.data as ArrayLike<number>)).toEqual(Array.from(values));
    }
  });

  it("keeps int64 exact as BigInt", () => {
    const data = new BigInt64Array([1n, -7n, 2n ** 40n]);
    const decoded = decodeArray({ view: new DataView(data.buffer), dtype: "int64", shape: [3] });
    expect(Array.from(decoded.data as BigInt64Array)).toEqual([1n, -7n, 2n ** 40n]);
    expect(at(decoded, 2)).toBe(2 ** 40);
  });

  it("rejects a byte count that does not match the shape", () => {
    expect(() => decodeArray({ view: viewOf([0, 0, 0]), dtype: "float32", shape: [1] })).toThrow(/needs 4 bytes/);
  });

  it("scatters a sparse array's nonzero values into zeros at their flat positions", () => {
    const values = new Float32Array([1.5, -2]);
    const indices = new Int32Array([1, 5]);
    const decoded = decodeArray({ view: new DataView(values.buffer), dtype: "float32", shape: [2, 3], indices: new DataView(indices.buffer) });
    expect(decoded.data).toBeInstanceOf(Float32Array);
    expect(Array.from(decoded.data as Float32Array)).toEqual([0, 1.5, 0, 0, 0, -2]);
    expect(decoded.shape).toEqual([2, 3]);
  });

  it("widens sparse float16 values too", () => {
    const decoded = decodeArray({ view: viewOf([0x00, 0x3c]), dtype: "float16", shape: [3], indices: viewOf([2, 0, 0, 0]) });
    expect(Array.from(decoded.data as Float32Array)).toEqual([0, 0, 1]);
  });

  it("rejects a sparse index outside the shape", () => {
    const values = new Float32Array([1]);
    expect(() => decodeArray({ view: new DataView(values.buffer), dtype: "float32", shape: [2], indices: viewOf([2, 0, 0, 0]) })).toThrow(/outside/);
  });

  it("rejects an unknown dtype", () => {
    expect(() => decodeArray({ view: viewOf([0]), dtype: "complex64", shape: [1] })).toThrow(/unsupported/);
  });
});

describe("half conversions", () => {
  it("handles infinities and NaN", () => {
    expect(halfToFloat(0x7c00)).toBe(Infinity);
    expect(halfToFloat(0xfc00)).toBe(-Infinity);
    expect(halfToFloat(0x7e00)).toBeNaN();
    expect(bfloat16ToFloat(0x7f80)).toBe(Infinity);
  });
});

describe("restoreBuffers", () => {
  it("puts buffers back at their paths", () => {
    const buffer = new Float32Array([3]).buffer;
    const content = { result: { values: { view: null, dtype: "float32", shape: [1] } } };
    restoreBuffers(content, [["result", "values", "view"]], [buffer]);
    const decoded = decodeArray((content.result as any).values);
    expect(Array.from(decoded.data as Float32Array)).toEqual([3]);
  });
});

describe("decodeCached", () => {
  const wire = () => ({ view: new DataView(new Float32Array([1, 2, 3, 4, 5, 6]).buffer), dtype: "float32", shape: [2, 3] });

  it("decodes a wire object once: the same (unchanged) trait value gives the same decoded array", () => {
    const first = wire();
    expect(decodeCached(first)).toBe(decodeCached(first));
    expect(Array.from(decodeCached(first).data as Float32Array)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it("decodes a new wire object (a changed trait) afresh", () => {
    const a = wire();
    const b = { ...wire(), view: new DataView(new Float32Array([7, 8, 9, 10, 11, 12]).buffer) };
    expect(decodeCached(a)).not.toBe(decodeCached(b));
    expect(toNumbers(b)).toEqual([7, 8, 9, 10, 11, 12]);
  });

  it("gives rows of a 2-D array, and no rows of a 1-D one", () => {
    expect(toRows(wire())).toEqual([[1, 2, 3], [4, 5, 6]]);
    expect(toRows({ view: new DataView(new Float32Array([1, 2]).buffer), dtype: "float32", shape: [2] })).toEqual([]);
    expect(numbersOf(decodeArray(wire()))).toEqual([1, 2, 3, 4, 5, 6]);
  });
});
