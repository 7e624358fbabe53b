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


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16, torch.float64])
def test_mostly_zero_floats_travel_as_their_nonzero_values_and_flat_positions(dtype):
    source = torch.zeros(64, 8, dtype=dtype)  # an SAE's codes: 3 nonzero of 512
    source[0, 0], source[10, 3], source[63, 7] = 1.5, -2.0, 0.25
    wire = to_wire(source)
    assert wire["shape"] == [64, 8]
    assert np.frombuffer(bytes(wire["indices"]), dtype="<i4").tolist() == [0, 83, 511]
    assert len(wire["view"]) == 3 * source.element_size()
    back = from_wire(wire)
    assert back.dtype == dtype and torch.equal(back, source)


def test_sparse_only_where_it_is_smaller():
    half_zero = torch.zeros(512)
    half_zero[::2] = 1.0  # half nonzero: 8 bytes per nonzero would cost as much as 4 per element
    assert "indices" not in to_wire(half_zero)
    mostly_zero = torch.zeros(512)
    mostly_zero[:200] = 1.0  # 200 x 8 < 512 x 4
    assert "indices" in to_wire(mostly_zero)
    assert "indices" not in to_wire(torch.zeros(100))  # small arrays stay dense
    assert "indices" not in to_wire(torch.zeros(1000, dtype=torch.int32))  # integers stay dense (ids, masks)
    assert torch.equal(from_wire(to_wire(torch.zeros(600))), torch.zeros(600))


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
