"""Talk to a widget the way its front-end does (tests only).

`ask(widget, "set", prompt="...")` answers a request at once, on the calling thread, as
`BaseWidget.handle_request` does for the front-end's `{kind: "request", id, type, payload}`. A
`FrontEnd(widget)` sends requests through the comm path instead (`_on_custom_message`), where
superseding requests queue on the widget's worker thread, and collects the replies the widget sends.
"""

from __future__ import annotations

import threading
from typing import Any


def message(type_: str, payload: dict[str, Any] | None = None, id: Any = "t") -> dict[str, Any]:
    """The front-end's request message."""
    return {"kind": "request", "id": id, "type": type_, "payload": payload or {}}


def request(widget: Any, type_: str, payload: dict[str, Any] | None = None, id: Any = "t") -> dict[str, Any]:
    """The widget's reply to one request whose payload is a dict (answered on this thread)."""
    return widget.handle_request(message(type_, payload, id))


def ask(widget: Any, type_: str, **payload: Any) -> dict[str, Any]:
    """The widget's reply to one request, its payload given as keywords: `ask(view, "set", prompt="Hi")`."""
    return request(widget, type_, payload)


class FrontEnd:
    """Requests sent as the comm delivers them; the widget's replies collected as they are sent."""

    def __init__(self, widget: Any) -> None:
        self.widget = widget
        self.replies: list[dict[str, Any]] = []
        self._arrived = threading.Condition()
        widget.send = self._receive

    def _receive(self, content: Any, buffers: Any = None) -> None:
        with self._arrived:
            self.replies.append(content)
            self._arrived.notify_all()

    def send(self, type_: str, id: Any = "t", **payload: Any) -> None:
        """Send a request (a superseding one is queued on the widget's worker thread)."""
        self.widget._on_custom_message(self.widget, message(type_, payload, id), [])

    def clear(self) -> None:
        """Forget the replies so far."""
        with self._arrived:
            self.replies.clear()

    def wait(self, count: int = 1, limit_s: float = 120.0) -> list[dict[str, Any]]:
        """Block until `count` replies have arrived (`limit_s` only guards against a hang; it judges no speed)."""
        with self._arrived:
            self._arrived.wait_for(lambda: len(self.replies) >= count, timeout=limit_s)
        assert len(self.replies) >= count, f"{len(self.replies)} of {count} replies arrived: {self.replies}"
        return self.replies

    def by_id(self, count: int) -> dict[Any, dict[str, Any]]:
        """The first `count` replies, by request id."""
        return {reply["id"]: reply for reply in self.wait(count)}
