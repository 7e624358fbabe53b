"""Arrays on the wire: `{"view": memoryview, "dtype": str, "shape": [..]}`.

ipywidgets lifts every memoryview out of a message into a binary buffer, so an array crosses
as its raw little-endian bytes (4 bytes a float32, against ~20 as JSON text) and the front-end
decodes it once into a typed array (`js/lib/codec.ts`). bfloat16, which numpy lacks, travels as
its raw 16-bit patterns under dtype "bfloat16".
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

WIRE_DTYPES = {
    "float32": np.float32,
    "float64": np.float64,
    "float16": np.float16,
    "int32": np.int32,
    "int64": np.int64,
    "uint8": np.uint8,
    "bool": np.bool_,
}


def to_wire(array: Any) -> dict[str, Any]:
    """A tensor or array as a wire dict (bytes are copied into a contiguous little-endian block)."""
    if isinstance(array, torch.Tensor):
        tensor = array.detach().cpu().contiguous()
        if tensor.dtype == torch.bfloat16:
            bits = tensor.view(torch.int16).numpy().astype("<u2", copy=False)
            return {"view": memoryview(bits.tobytes()), "dtype": "bfloat16", "shape": list(tensor.shape)}
        array = tensor.numpy()
    array = np.asarray(array)
    name = array.dtype.name
    if name not in WIRE_DTYPES:
        raise TypeError(f"arrays of dtype {name} cannot go on the wire; use one of {sorted(WIRE_DTYPES)} or bfloat16")
    little = np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<"))
    return {"view": memoryview(little.tobytes()), "dtype": name, "shape": list(array.shape)}


def from_wire(wire: dict[str, Any]) -> torch.Tensor:
    """The inverse of `to_wire` (used by tests and by requests that send arrays to the kernel)."""
    raw = bytes(wire["view"])
    shape = tuple(wire["shape"])
    if wire["dtype"] == "bfloat16":
        bits = np.frombuffer(raw, dtype="<i2").copy()
        return torch.from_numpy(bits).view(torch.bfloat16).reshape(shape)
    array = np.frombuffer(raw, dtype=np.dtype(WIRE_DTYPES[wire["dtype"]]).newbyteorder("<")).reshape(shape)
    return torch.from_numpy(array.astype(array.dtype.newbyteorder("="), copy=True))


def extract_buffers(message: Any, path: tuple = ()) -> tuple[Any, list[list[Any]], list[memoryview]]:
    """Replace every bytes/memoryview in a message by None and list where they were.

    Returns `(message_without_buffers, buffer_paths, buffers)`; the front-end puts them back
    (`restoreBuffers` in `js/lib/codec.ts`).
    """
    paths: list[list[Any]] = []
    buffers: list[memoryview] = []

    def walk(node: Any, here: tuple) -> Any:
        if isinstance(node, (bytes, bytearray, memoryview)):
            paths.append(list(here))
            buffers.append(memoryview(node))
            return None
        if isinstance(node, dict):
            return {key: walk(value, here + (key,)) for key, value in node.items()}
        if isinstance(node, (list, tuple)):
            return [walk(value, here + (index,)) for index, value in enumerate(node)]
        return node

    return walk(message, path), paths, buffers
