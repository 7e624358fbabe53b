"""Arrays on the wire: `{"view": memoryview, "dtype": str, "shape": [..]}`.

ipywidgets lifts every memoryview out of a message into a binary buffer, so an array crosses
as its raw little-endian bytes (4 bytes a float32, against ~20 as JSON text) and the front-end
decodes it once into a typed array (`js/lib/codec.ts`). bfloat16, which numpy lacks, travels as
its raw 16-bit patterns under dtype "bfloat16".

Mostly-zero floating arrays (SAE codes: a feature fires on ~1 % of tokens) travel sparse: `view`
holds only the nonzero values, in order, and `indices` (int32) their flat positions; the receiver
scatters them into zeros. That is chosen only when it is smaller: 4 + itemsize bytes per nonzero
against itemsize per element, i.e. below half the elements nonzero for float32.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import traitlets

WIRE_DTYPES = {
    "float32": np.float32,
    "float64": np.float64,
    "float16": np.float16,
    "int32": np.int32,
    "int64": np.int64,
    "uint8": np.uint8,
    "bool": np.bool_,
}


SPARSE_MIN_ELEMENTS = 256  # smaller arrays always travel dense


def to_wire(array: Any) -> dict[str, Any]:
    """A tensor or array as a wire dict (bytes are copied into a contiguous little-endian block);
    a mostly-zero floating array as its nonzero values plus their flat `indices`."""
    if isinstance(array, torch.Tensor):
        tensor = array.detach().cpu().contiguous()
        if tensor.dtype == torch.bfloat16:
            flat = tensor.reshape(-1)
            nonzero = _sparse_positions(flat.ne(0).numpy(), itemsize=2)
            bits = (flat if nonzero is None else flat[torch.from_numpy(nonzero).long()]).view(torch.int16).numpy()
            return _wire(bits.astype("<u2", copy=False), "bfloat16", list(tensor.shape), nonzero)
        array = tensor.numpy()
    array = np.asarray(array)
    name = array.dtype.name
    if name not in WIRE_DTYPES:
        raise TypeError(f"arrays of dtype {name} cannot go on the wire; use one of {sorted(WIRE_DTYPES)} or bfloat16")
    flat = np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<")).reshape(-1)
    nonzero = _sparse_positions(flat != 0, array.dtype.itemsize) if array.dtype.kind == "f" else None
    return _wire(flat if nonzero is None else flat[nonzero], name, list(array.shape), nonzero)


def _sparse_positions(is_nonzero: np.ndarray, itemsize: int) -> np.ndarray | None:
    """The flat positions of the nonzero elements [nnz] (int32), or None when dense is as small."""
    if is_nonzero.size < SPARSE_MIN_ELEMENTS:
        return None
    count = int(is_nonzero.sum())
    if count * (4 + itemsize) >= is_nonzero.size * itemsize:
        return None
    return np.flatnonzero(is_nonzero).astype("<i4")


def _wire(values: np.ndarray, dtype: str, shape: list[int], indices: np.ndarray | None) -> dict[str, Any]:
    wire = {"view": memoryview(values.tobytes()), "dtype": dtype, "shape": shape}
    if indices is not None:
        wire["indices"] = memoryview(indices.tobytes())
    return wire


def from_wire(wire: dict[str, Any] | torch.Tensor) -> torch.Tensor:
    """The inverse of `to_wire` (for requests that send arrays to the kernel); a tensor (what an
    `Array` trait holds) comes back as it is."""
    if isinstance(wire, torch.Tensor):
        return wire
    raw = bytes(wire["view"])
    shape = tuple(wire["shape"])
    if wire["dtype"] == "bfloat16":
        values = torch.from_numpy(np.frombuffer(raw, dtype="<i2").copy()).view(torch.bfloat16)
    else:
        array = np.frombuffer(raw, dtype=np.dtype(WIRE_DTYPES[wire["dtype"]]).newbyteorder("<"))
        values = torch.from_numpy(array.astype(array.dtype.newbyteorder("="), copy=True))
    if "indices" not in wire:
        return values.reshape(shape)
    indices = torch.from_numpy(np.frombuffer(bytes(wire["indices"]), dtype="<i4").astype(np.int64))
    dense = torch.zeros(int(np.prod(shape, dtype=np.int64)), dtype=values.dtype)
    dense[indices] = values
    return dense.reshape(shape)


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


class Array(traitlets.TraitType):
    """A synced tensor trait whose serializer is the wire codec (the pattern of jupyter-scatter's and
    lonboard's array traits): the widget holds a CPU tensor, the front-end receives
    `{view, dtype, shape}` with the bytes as a binary buffer, and no widget calls `to_wire` itself.

        scores = Array(dtype=torch.float32, shape=(0, 0))   # [n_layers, n_heads]

    Set a tensor, numpy array or (nested) list; it is cast to `dtype` when one is given. Every
    assignment notifies (tensors have no cheap equality), unless the very same tensor is set again.
    """

    info_text = "a tensor (or an array or list of numbers)"

    def __init__(self, dtype: torch.dtype | None = torch.float32, shape: tuple[int, ...] = (0,), **kwargs: Any) -> None:
        self.dtype = dtype
        super().__init__(default_value=torch.zeros(shape, dtype=dtype or torch.float32), **kwargs)
        self.tag(sync=True, to_json=_array_to_json, from_json=_array_from_json)

    def make_dynamic_default(self) -> torch.Tensor:
        return self.default_value.clone()

    def validate(self, obj: Any, value: Any) -> torch.Tensor:
        if isinstance(value, dict) and "view" in value:
            value = from_wire(value)
        if isinstance(value, torch.Tensor):
            tensor = value.detach().cpu()
        else:
            try:
                tensor = torch.as_tensor(np.asarray(value))
            except (TypeError, ValueError) as error:
                raise traitlets.TraitError(f"the {self.name!r} trait of {type(obj).__name__} takes numbers: {error}") from None
        if self.dtype is not None and tensor.dtype != self.dtype:
            tensor = tensor.to(self.dtype)
        return tensor.contiguous()

    def set(self, obj: Any, value: Any) -> None:
        new = self._validate(obj, value)
        old = obj._trait_values.get(self.name, self.default_value)
        obj._trait_values[self.name] = new
        if new is not old:
            obj._notify_trait(self.name, old, new)


def _array_to_json(value: torch.Tensor, _widget: Any) -> dict[str, Any]:
    return to_wire(value)


def _array_from_json(value: Any, _widget: Any) -> torch.Tensor | None:
    return from_wire(value) if isinstance(value, dict) and "view" in value else value


def with_arrays(trait: traitlets.TraitType) -> traitlets.TraitType:
    """A synced trait (a dict or list) whose tensors anywhere inside travel as wire arrays."""
    return trait.tag(sync=True, to_json=_nested_to_json)


def _nested_to_json(value: Any, _widget: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return to_wire(value)
    if isinstance(value, dict):
        return {key: _nested_to_json(item, _widget) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_nested_to_json(item, _widget) for item in value]
    return value
