"""The base class's contract, on a widget made for the test: set -> compute -> undo on error ->
publish, streaming partial results, superseding, and the one `set` request."""

import dataclasses
import threading
import time
from typing import Any

import pytest
import torch
import traitlets

from interp_widgets.errors import InterpWidgetsError, Superseded
from interp_widgets.widgets._base import Array, BaseWidget, Inputs, bundle_path, request_handler
from interp_widgets.widgets.selection import Selection
from tests.widget_requests import FrontEnd


@dataclasses.dataclass(frozen=True, eq=False)
class CountInputs(Inputs):
    prompt: str
    steps: int = 3
    target: int = -1
    fail_at: int = -1  # raise at this step (to test the undo)

    EDITABLE = ("prompt", "steps", "target")


class Counter(BaseWidget):
    """Counts the prompt's letters in `steps` slices, yielding a partial result after each."""

    _esm = bundle_path("token_highlights.js")
    SELECTION = {"prompt": "prompt", "target": "target"}
    prompt = traitlets.Unicode("").tag(sync=True)
    target = traitlets.Int(0).tag(sync=True)
    counts = Array()
    progress = traitlets.Unicode("").tag(sync=True)
    actions = traitlets.Int(0).tag(sync=True)

    def compute(self, inputs: CountInputs, progress: Any, should_stop: Any) -> Any:
        counts = torch.full((inputs.steps,), float("nan"))
        for step in range(inputs.steps):
            if step == inputs.fail_at:
                raise InterpWidgetsError(f"step {step} failed")
            if getattr(self, "gate", None) is not None:
                self.gate.wait(5)
            if should_stop():
                raise Superseded()
            counts[step] = len(inputs.prompt) * (step + 1)
            progress(step + 1, inputs.steps, "counting")
            yield {"counts": counts.clone()}
        return {"counts": counts, "target": max(inputs.target, 0)}

    @request_handler("poke")
    def _poke(self) -> dict[str, Any]:
        self.actions += 1
        return {"actions": self.actions}


def built(prompt: str = "abc", **fields: Any) -> Counter:
    return Counter.computed(CountInputs(prompt, **fields))


def test_set_recomputes_and_mirrors_plain_inputs():
    widget = built("abc")
    assert widget.prompt == "abc" and widget.counts.tolist() == [3.0, 6.0, 9.0] and widget.progress == ""
    widget.set(prompt="abcd", steps=2)
    assert widget.inputs.prompt == "abcd" and widget.counts.tolist() == [4.0, 8.0]


def test_an_error_keeps_the_old_inputs_and_view_even_after_partial_results():
    widget = built("abc")
    widget.PROGRESS_AFTER_S = 0.0  # partial results are shown at once
    shown = []
    widget.observe(lambda change: shown.append(change["new"].tolist()), names=["counts"])
    with pytest.raises(InterpWidgetsError, match="step 2 failed"):
        widget.set(prompt="abcdef", fail_at=2)
    assert shown[1][:2] == [6.0, 12.0]  # the partial results were on screen ...
    assert widget.counts.tolist() == [3.0, 6.0, 9.0] and widget.prompt == "abc" and widget.progress == ""  # ... and is undone
    assert widget.inputs.prompt == "abc" and widget.inputs.fail_at == -1


def test_unknown_inputs_and_inputs_the_view_may_not_change():
    widget = built()
    with pytest.raises(InterpWidgetsError, match=r"no input 'promt' \(did you mean 'prompt'\?\): its inputs are prompt, steps, target, fail_at"):
        widget.set(promt="xy")  # a misspelled name: a clear error, not a TypeError from deep inside
    with pytest.raises(InterpWidgetsError, match="no input 'colour': its inputs"):
        widget.set(colour="red")
    reply = widget.handle_request({"id": 0, "type": "set", "payload": {"promt": "xy"}})
    assert not reply["ok"] and reply["error"] == "Counter has no input 'promt': the view can change prompt, steps, target."
    assert widget.prompt == "abc"
    reply = widget.handle_request({"id": 1, "type": "set", "payload": {"fail_at": 1}})
    assert not reply["ok"] and "cannot be changed from the view" in reply["error"]
    assert widget.handle_request({"id": 2, "type": "set", "payload": {"prompt": "xy"}})["result"] == {"set": ["prompt"]}
    assert widget.counts.tolist() == [2.0, 4.0, 6.0]
    assert widget.handle_request({"id": 3, "type": "poke", "payload": {}})["result"] == {"actions": 1}  # an action


def test_a_view_built_from_data_says_how_to_get_one_that_computes():
    with pytest.raises(InterpWidgetsError, match="Counter.from_model"):
        Counter().set(prompt="x")


def test_arrays_travel_through_the_wire_codec():
    widget = built("ab")
    wire = widget.get_state("counts")["counts"]
    assert wire["dtype"] == "float32" and wire["shape"] == [3] and bytes(wire["view"]) == torch.tensor([2.0, 4.0, 6.0]).numpy().tobytes()
    widget.counts = [1, 2]  # a list is taken, stored as the trait's dtype
    assert widget.counts.dtype == torch.float32


def test_a_newer_set_supersedes_the_running_one():
    widget = built("abc")
    widget.gate = threading.Event()  # holds the computation between slices until released
    front_end = FrontEnd(widget)
    front_end.send("set", "old", prompt="old!")
    time.sleep(0.1)  # the old computation is held at its gate
    front_end.send("set", "new", prompt="newer")
    widget.gate.set()
    by_id = front_end.by_id(2)
    assert by_id["old"]["superseded"] and by_id["new"]["ok"], by_id
    assert widget.prompt == "newer" and widget.counts.tolist() == [5.0, 10.0, 15.0]
    widget.close()


def test_a_linked_view_publishes_its_change_and_follows_others():
    selection = Selection(model=None, saes={"a": object()}, prompt="abc")
    first, second = built("abc"), built("abc")
    first.link(selection)
    second.link(selection)
    first.set(prompt="hello")  # published: the selection and the other view follow; a new prompt has no target yet
    assert selection.prompt == "hello" and selection.target == -1 and second.prompt == "hello"
    assert second.counts.tolist() == [5.0, 10.0, 15.0]
    second.set(target=2)
    assert selection.target == 2 and first.target == 2 and first.inputs.target == 2
    with pytest.raises(InterpWidgetsError):
        first.set(prompt="boom", fail_at=0)  # a failed change is not published
    assert selection.prompt == "hello"
