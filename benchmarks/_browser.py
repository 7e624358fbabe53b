"""Shared by the browser benchmarks: Debian's Chromium under Playwright, and a quiet local file server."""

from __future__ import annotations

import contextlib
import functools
import http.server
import shutil
import socketserver
import threading
from pathlib import Path
from typing import Iterator

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--disable-quic"]


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:  # noqa: D102
        pass


@contextlib.contextmanager
def served(folder: Path) -> Iterator[str]:
    """Serve `folder` on localhost while the block runs; yields the base URL."""
    server = socketserver.TCPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(folder)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def launch(playwright):
    """Headless Chromium (the system's, as Playwright's own download is not reachable here)."""
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    return playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS)
