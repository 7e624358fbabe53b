"""The base class of every interp-widgets widget: inputs -> compute -> traits, requests, display.

- Durable state lives in synced traits; work on demand goes through requests: the front-end
  sends `{kind: "request", id, type, payload}`, the kernel answers `{kind: "reply", id, ok,
  result | error}` with arrays as binary buffers. An `InterpWidgetsError` becomes an error shown
  in the widget; any other exception too, its traceback kept in `widget.last_traceback`.
- Unknown keyword arguments raise a TypeError listing the valid ones.
- `repr` is cheap; `to_text()` is a plain-text form; the display bundle also carries a static
  snapshot (`_display.py`).

The contract every widget follows (CONTRIBUTING.md has the recipe):

- It declares what it computes from as a frozen dataclass of typed inputs (`Inputs`, `_inputs.py`:
  model, readout, prompt, …); `EDITABLE` names those the front-end may change.
- It has one step, `compute(inputs, progress, should_stop)`, that returns the new trait values as
  a dict, or is a generator that yields partial dicts first (a map filling in slice by slice) and
  returns the final one. The maths is in `compute/`; `compute` only calls it and shapes its result.
- This class does the rest, the same for every widget: `set(**changes)` recomputes from the
  changed inputs, keeps the old inputs and traits when that fails (undo), publishes the changed
  inputs that a linked `Selection` holds, and answers the front-end's `set` request (superseding:
  a newer one stops the older computation at its next check). Hand-written request handlers
  remain for actions only (toggle, inspect, searches), marked `@request_handler`.
- Arrays are `Array` traits (`_wire.py`): tensors whose serializer is the wire codec.
- A view that follows the shared `Selection` declares once how the selection maps onto its inputs
  (`SELECTION`: input name -> what the selection holds); `from_selection` builds the view from it and
  `follow` changes, through `set`'s undo path, the inputs whose choices changed (`_linked.py`).
- `compute`'s dict may also carry kernel-side state the view keeps (plain attributes such as a graph
  cache, not traits): it is committed with the traits, only when the whole computation succeeds.
"""

from __future__ import annotations

import dataclasses
import queue
import threading
import time
import traceback
from importlib import resources
from pathlib import Path
from typing import Any, Callable, ClassVar, Iterator

import anywidget
import traitlets

from interp_widgets.errors import InterpWidgetsError, Superseded
from interp_widgets.widgets._display import VIEW_MIME, WIDGET_VIEW_MIME, SnapshotDisplay
from interp_widgets.widgets._inputs import Inputs, Progress, ShouldStop
from interp_widgets.widgets._linked import LinkedView
from interp_widgets.widgets._wire import Array, extract_buffers, with_arrays

__all__ = ["VIEW_MIME", "WIDGET_VIEW_MIME", "Array", "BaseWidget", "Inputs", "Progress", "ShouldStop", "bundle_path", "request_handler", "with_arrays"]

_CLOSED: Any = {"kind": "closed"}  # tells a widget's worker thread to end


def request_handler(request_type: str, supersedes: bool = False) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Mark a method as the kernel side of front-end requests of `request_type`.

    `supersedes=True`: a request of this type makes every earlier superseding request of the
    widget stale. The widget then answers its requests on its own worker thread, in order, so the
    kernel stays free to receive the newer one; the older computation sees `self.should_stop()`
    turn True and stops (it raises `Superseded` at its next check).
    """

    def mark(method: Callable[..., Any]) -> Callable[..., Any]:
        method._interp_widgets_request = request_type  # type: ignore[attr-defined]
        method._interp_widgets_supersedes = supersedes  # type: ignore[attr-defined]
        return method

    return mark


def bundle_path(name: str) -> Path:
    """Path of a built front-end bundle in `interp_widgets/static/`, with a fix if it is missing."""
    path = Path(str(resources.files("interp_widgets").joinpath("static", name)))
    if not path.exists():
        raise InterpWidgetsError(
            f"the front-end bundle {name} is missing from {path.parent}: build it with "
            "`npm --prefix js install && npm --prefix js run build` (the README's set-up does this)."
        )
    return path


class BaseWidget(SnapshotDisplay, LinkedView, anywidget.AnyWidget):
    """Shared machinery: the inputs -> compute -> traits cycle, requests, text and static HTML forms."""

    PROGRESS_AFTER_S: ClassVar[float] = 0.5
    """A computation that runs longer than this shows its partial results (and its progress) as they come."""

    _request_handlers: ClassVar[dict[str, str]] = {}
    _superseding: ClassVar[frozenset[str]] = frozenset()
    _linked_error = traitlets.Unicode("").tag(sync=True)
    """Why the view could not follow a change another linked view made (shown in its error banner)."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        if "_esm" not in vars(cls):  # a registered widget's front-end is its registry row's bundle (named there only)
            from interp_widgets.widgets.registry import bundle_of

            bundle = bundle_of(cls.__name__)
            if bundle is not None:
                cls._esm = bundle_path(f"{bundle}.js")
        super().__init_subclass__(**kwargs)  # anywidget reads the bundle's text from the path
        handlers: dict[str, str] = {}
        superseding: set[str] = set()
        for klass in reversed(cls.__mro__):  # BaseWidget's own `set` first; a subclass may override
            for name, member in vars(klass).items():
                request_type = getattr(member, "_interp_widgets_request", None)
                if request_type:
                    handlers[request_type] = name
                    if getattr(member, "_interp_widgets_supersedes", False):
                        superseding.add(request_type)
        cls._request_handlers = handlers
        cls._superseding = frozenset(superseding)

    def __init__(self, **kwargs: Any) -> None:
        valid = self.public_trait_names()
        unknown = sorted(set(kwargs) - set(valid))
        if unknown:
            raise TypeError(
                f"{type(self).__name__} got unexpected keyword argument(s) {', '.join(map(repr, unknown))}. "
                f"Valid ones: {', '.join(valid)}."
            )
        self._display_ids: list[str] = []
        self.last_traceback: str | None = None
        self.inputs: Inputs | None = None  # what the view computes from (None: built from fixed data)
        self._selection: Any = None  # the linked Selection, if any
        self._unfollowed: set[str] = set()  # choices of the selection a failed follow left this view behind on
        self._generation = 0  # bumped by every superseding request that arrives
        self._running_generation: int | None = None  # the generation of the superseding request being computed
        self._queue: "queue.Queue[dict[str, Any]] | None" = None
        super().__init__(**kwargs)
        self.on_msg(self._on_custom_message)
        self.observe(self._on_state_change, names=list(valid))

    @classmethod
    def public_trait_names(cls) -> list[str]:
        """The traits a user may set: the synced ones this package declares."""
        own = set()
        for klass in cls.__mro__:
            if klass is BaseWidget:
                break
            own.update(name for name, value in vars(klass).items() if hasattr(value, "metadata"))
        return sorted(name for name in own if not name.startswith("_") and cls.class_traits()[name].metadata.get("sync"))

    # ---- requests -------------------------------------------------------------------------

    def _on_custom_message(self, _widget: Any, content: Any, _buffers: list[Any]) -> None:
        if not isinstance(content, dict) or content.get("kind") != "request":
            return
        if not self._superseding:
            self._send_reply(self.handle_request(content))
            return
        if content.get("type") in self._superseding:
            self._generation += 1
            content = {**content, "_generation": self._generation}
        if self._queue is None:
            self._queue = queue.Queue()
            threading.Thread(target=self._work, name=f"{type(self).__name__}-requests", daemon=True).start()
        self._queue.put(content)

    def _work(self) -> None:
        """The worker thread: answer queued requests in order; a superseded one is answered as such."""
        assert self._queue is not None
        while True:
            request = self._queue.get()
            if request is _CLOSED:
                return
            self._running_generation = request.pop("_generation", None)
            try:
                self._send_reply(self.handle_request(request))
            finally:
                self._running_generation = None

    def close(self) -> None:
        """Close the widget, and end its worker thread if it has one."""
        if getattr(self, "_queue", None) is not None:  # absent when __init__ refused its arguments
            self._generation += 1  # whatever is running now is not wanted any more
            self._queue.put(_CLOSED)
        super().close()

    def should_stop(self) -> bool:
        """True while computing a superseding request that a newer one has replaced (check between chunks)."""
        return self._running_generation is not None and self._running_generation != self._generation

    def stop_if_superseded(self) -> None:
        """Raise `Superseded` if a newer request replaced the one being computed."""
        if self.should_stop():
            raise Superseded()

    def _send_reply(self, reply: dict[str, Any]) -> None:
        message, paths, buffers = extract_buffers(reply)
        message["buffer_paths"] = paths
        self.send(message, buffers)

    def handle_request(self, request: dict[str, Any]) -> dict[str, Any]:
        """Answer one front-end request (also the entry point for widget-state tests)."""
        request_id = request.get("id")
        request_type = request.get("type")
        try:
            method_name = self._request_handlers.get(str(request_type))
            if method_name is None:
                raise InterpWidgetsError(
                    f"{type(self).__name__} has no request {request_type!r}; it answers {sorted(self._request_handlers)}."
                )
            payload = request.get("payload") or {}
            self.stop_if_superseded()
            result = getattr(self, method_name)(**payload)
            return {"kind": "reply", "id": request_id, "ok": True, "result": result}
        except Superseded:
            return {"kind": "reply", "id": request_id, "ok": False, "superseded": True,
                    "error": "superseded by a newer request (its answer is shown instead)"}
        except InterpWidgetsError as error:
            return {"kind": "reply", "id": request_id, "ok": False, "error": str(error)}
        except Exception as error:  # shown in the widget; the traceback stays inspectable
            self.last_traceback = traceback.format_exc()
            return {
                "kind": "reply",
                "id": request_id,
                "ok": False,
                "error": f"{type(error).__name__}: {error} (full traceback in widget.last_traceback)",
            }

    # ---- the contract: inputs -> compute -> traits ------------------------------------------

    def compute(self, inputs: Any, progress: Progress, should_stop: ShouldStop) -> dict[str, Any] | Iterator[dict[str, Any]]:
        """The new trait values for `inputs` (a dict), or a generator that yields partial dicts and returns the last."""
        raise NotImplementedError(f"{type(self).__name__} is built from fixed data and computes nothing.")

    @classmethod
    def computed(cls, inputs: Inputs, **traits: Any) -> Any:
        """A widget with `traits`, computed from `inputs` (what every `from_model` ends with)."""
        widget = cls(**traits)
        widget.set_inputs(inputs)
        return widget

    def set(self, **changes: Any) -> None:
        """Change inputs and recompute; on an error the old inputs and view stay. Publishes the change to a linked selection."""
        self._update(changes, publish=True)

    def set_inputs(self, inputs: Inputs) -> None:
        """Recompute from new inputs as a whole (undo on error, as `set`)."""
        self._apply(inputs)

    def recompute(self) -> None:
        """Compute again from the same inputs (after an input object changed in place, say)."""
        self._apply(self._need_inputs())

    def _need_inputs(self) -> Inputs:
        if self.inputs is None:
            name = type(self).__name__
            raise InterpWidgetsError(f"this view was built without a model: build it with {name}.from_model(...) to recompute in the kernel.")
        return self.inputs

    def _update(self, changes: dict[str, Any], publish: bool) -> None:
        new = self._need_inputs().with_changes(changes)
        self._apply(new)
        if publish:
            self._publish_inputs(changes, new)

    def _apply(self, inputs: Inputs) -> None:
        """Run `compute`, show partial results of a long one, then the final result; undo everything on error."""
        shown: dict[str, Any] = {}  # trait -> value before the first partial result changed it
        started = time.perf_counter()
        streaming: dict[str, Any] = {}  # a streaming compute's latest progress, shown with its next partial result

        def progress(done: int, total: int, what: str = "computing") -> None:
            if "progress" in self.trait_names() and time.perf_counter() - started > self.PROGRESS_AFTER_S:
                if "on" in streaming:
                    streaming["progress"] = f"{what}: {done} of {total}"
                else:
                    remember({"progress": None})
                    self.set_trait("progress", f"{what}: {done} of {total}")

        def remember(values: dict[str, Any]) -> None:
            for name in values:
                shown.setdefault(name, getattr(self, name))

        try:
            out = self.compute(inputs, progress, self.should_stop)
            if isinstance(out, Iterator):
                streaming["on"] = True
                while True:
                    try:
                        partial = next(out)
                    except StopIteration as done:
                        out = done.value
                        break
                    self.stop_if_superseded()
                    if time.perf_counter() - started > self.PROGRESS_AFTER_S:
                        partial = {**partial, **({"progress": streaming.pop("progress")} if "progress" in streaming else {})}
                        remember(partial)
                        self._show(partial)
            self.stop_if_superseded()
        except BaseException:
            if shown:
                self._show(shown)
            raise
        final = {name: getattr(inputs, name) for name in self._mirrored(inputs)}
        final.update(out or {})
        if "progress" in self.trait_names():
            final.setdefault("progress", "")
        self.inputs = inputs
        self._show(final)

    def _mirrored(self, inputs: Inputs) -> list[str]:
        """Inputs shown as traits of the same name (the prompt, a mode, …): plain values only."""
        traits = self.trait_names(sync=True)
        return [f.name for f in dataclasses.fields(inputs)
                if f.name in traits and isinstance(getattr(inputs, f.name), (str, int, float, bool))]

    def _show(self, values: dict[str, Any]) -> None:
        with self.hold_sync():
            for name, value in values.items():
                setattr(self, name, value)

    @request_handler("set", supersedes=True)
    def _request_set(self, **changes: Any) -> dict[str, Any]:
        """The front-end's change of inputs (only the `EDITABLE` ones)."""
        inputs = self._need_inputs()
        unknown = sorted(set(changes) - set(inputs.input_names()))
        if unknown:
            raise InterpWidgetsError(f"{type(self).__name__} has no input {', '.join(map(repr, unknown))}: the view can change "
                                     f"{', '.join(inputs.EDITABLE) or 'nothing'}.")
        refused = sorted(name for name in changes if name not in inputs.EDITABLE)
        if refused:
            raise InterpWidgetsError(f"{', '.join(refused)} cannot be changed from the view; it can change {', '.join(inputs.EDITABLE)}.")
        self.set(**changes)
        return {"set": sorted(changes)}
