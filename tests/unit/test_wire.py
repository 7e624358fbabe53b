"""Wire: tensor -> bytes -> tensor round trips, and buffers lifted out of messages."""

import numpy as np
import pytest
import torch

from interp_widgets.widgets._wire import extract_buffers, from_wire, to_wire


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16, torch.int64, torch.int32, torch.float64, torch.bool])
def test_round_trip(dtype):
    generator = torch.Generator().manual_seed(0)
    source = (torch.randn(3, 5, generator=generator) * 1000).to(dtype)
    wire = to_wire(source)
    assert isinstance(wire["view"], memoryview)
    assert wire["shape"] == [3, 5]
    assert wire["dtype"] == str(dtype).removeprefix("torch.").replace("bool", "bool")
    assert len(wire["view"]) == source.numel() * source.element_size()
    back = from_wire(wire)
    assert back.dtype == dtype
    assert torch.equal(back, source)


def test_bfloat16_is_sent_as_its_raw_bits():
    wire = to_wire(torch.tensor([1.0, -3.0], dtype=torch.bfloat16))
    assert bytes(wire["view"]) == bytes([0x80, 0x3F, 0x40, 0xC0])  # the patterns the JS test decodes


def test_big_endian_numpy_is_made_little_endian():
    source = np.arange(4, dtype=">f4")
    wire = to_wire(source)
    assert bytes(wire["view"]) == np.arange(4, dtype="<f4").tobytes()


def test_non_contiguous_tensor():
    source = torch.arange(12, dtype=torch.float32).reshape(3, 4).T
    assert torch.equal(from_wire(to_wire(source)), source)


def test_unsupported_dtype():
    with pytest.raises(TypeError, match="cannot go on the wire"):
        to_wire(np.array([1 + 2j]))


def test_extract_buffers():
    message = {"result": {"a": to_wire(torch.ones(2)), "list": [1, b"xy"]}, "id": 3}
    stripped, paths, buffers = extract_buffers(message)
    assert paths == [["result", "a", "view"], ["result", "list", 1]]
    assert stripped["result"]["a"]["view"] is None and stripped["result"]["list"] == [1, None]
    assert bytes(buffers[1]) == b"xy"
    assert message["result"]["list"][1] == b"xy"  # the original is left alone
