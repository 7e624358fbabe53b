// Arrays cross the wire as {view, dtype, shape}: `view` is a DataView over raw little-endian
// bytes (ipywidgets puts binary buffers back in place before we see them). We decode once,
// into a typed array, and never go through JSON number lists. A mostly-zero array comes sparse:
// `view` holds its nonzero values and `indices` (int32) their flat positions.

export type WireArray = { view: DataView; dtype: string; shape: number[]; indices?: DataView };
export type NumericArray = Float32Array | Float64Array | Int32Array | Uint8Array | BigInt64Array;
export type Decoded = { data: NumericArray; shape: number[] };

/** IEEE 754 half precision (binary16) bits -> number. */
export function halfToFloat(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  if (exponent === 0) return sign * 2 ** -14 * (fraction / 1024);
  if (exponent === 0x1f) return fraction ? NaN : sign * Infinity;
  return sign * 2 ** (exponent - 15) * (1 + fraction / 1024);
}

/** bfloat16 bits are the top 16 bits of a float32. */
export function bfloat16ToFloat(bits: number): number {
  const scratch = new DataView(new ArrayBuffer(4));
  scratch.setUint32(0, (bits & 0xffff) << 16, true);
  return scratch.getFloat32(0, true);
}

function sizeOf(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Decode a wire array into a typed array. Half types are widened to Float32Array. */
export function decodeArray(wire: WireArray): Decoded {
  if (wire.indices) return scatter(wire, wire.indices);
  return decodeDense(wire);
}

/** A sparse wire array: its nonzero values decoded, then placed at their flat positions in zeros. */
function scatter(wire: WireArray, indices: DataView): Decoded {
  const count = indices.byteLength / 4;
  const values = decodeDense({ view: wire.view, dtype: wire.dtype, shape: [count] }).data;
  const n = sizeOf(wire.shape);
  const out = new (values.constructor as new (length: number) => NumericArray)(n);
  for (let i = 0; i < count; i++) {
    const position = indices.getInt32(i * 4, true);
    if (position < 0 || position >= n) throw new Error(`sparse wire array index ${position} outside shape [${wire.shape}]`);
    out[position] = values[i];
  }
  return { data: out, shape: wire.shape };
}

/** Wire dtypes read as they are: bytes per element and the typed array over them. */
const TYPED: Record<string, [number, new (buffer: ArrayBufferLike) => NumericArray]> = {
  float32: [4, Float32Array], float64: [8, Float64Array], int32: [4, Int32Array], uint8: [1, Uint8Array], bool: [1, Uint8Array],
  int64: [8, BigInt64Array],
};
/** Half types, widened to float32 element by element. */
const HALF: Record<string, (bits: number) => number> = { float16: halfToFloat, bfloat16: bfloat16ToFloat };

function decodeDense(wire: WireArray): Decoded {
  const { view, dtype, shape } = wire;
  const n = sizeOf(shape);
  const per = TYPED[dtype]?.[0] ?? (dtype in HALF ? 2 : 0);
  if (!per) throw new Error(`unsupported wire dtype ${dtype}`);
  if (view.byteLength !== n * per) {
    throw new Error(`wire array of dtype ${dtype} and shape [${shape}] needs ${n * per} bytes, got ${view.byteLength}`);
  }
  if (dtype in TYPED) return { data: new TYPED[dtype][1](view.buffer.slice(view.byteOffset, view.byteOffset + view.byteLength)), shape };
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = HALF[dtype](view.getUint16(i * 2, true));
  return { data: out, shape };
}

const decodedWires = new WeakMap<object, Decoded>();

/**
 * `decodeArray`, once per wire object: a trait that has not changed hands back the same object, so a
 * redraw after some other trait changed costs a lookup, not a decode. Treat the result as read-only
 * (every later redraw sees it).
 */
export function decodeCached(wire: WireArray): Decoded {
  let decoded = decodedWires.get(wire);
  if (!decoded) {
    decoded = decodeArray(wire);
    decodedWires.set(wire, decoded);
  }
  return decoded;
}

/** A decoded array as a plain list of numbers, flattened. */
export function numbersOf(decoded: Decoded): number[] {
  return Array.from({ length: decoded.data.length }, (_, i) => at(decoded, i));
}

/** A (cached) wire array as a plain list of numbers, flattened. */
export function toNumbers(wire: WireArray): number[] {
  return numbersOf(decodeCached(wire));
}

/** A (cached) 2-D wire array `[n, m]` as n rows of m numbers (no rows unless it is 2-D). */
export function toRows(wire: WireArray): number[][] {
  const decoded = decodeCached(wire);
  const [n, m] = decoded.shape.length === 2 ? decoded.shape : [0, 0];
  return Array.from({ length: n }, (_, i) => Array.from({ length: m }, (_, j) => at(decoded, i * m + j)));
}

/** Element i of a decoded array as a JS number (int64 values beyond 2^53 lose precision). */
export function at(decoded: Decoded, i: number): number {
  return Number(decoded.data[i]);
}

/** Put binary buffers back at their paths in a message (mirror of the kernel's extraction). */
export function restoreBuffers(content: unknown, paths: (string | number)[][], buffers: (DataView | ArrayBuffer)[]): unknown {
  paths.forEach((path, i) => {
    const buffer = buffers[i];
    const view = buffer instanceof DataView ? buffer : new DataView(buffer);
    let node = content as Record<string | number, unknown>;
    for (const key of path.slice(0, -1)) node = node[key] as Record<string | number, unknown>;
    node[path[path.length - 1]] = view;
  });
  return content;
}
