"""A JupyterLab server and headless Chromium, for the real-browser tests.

Chromium is Debian's (`IW_CHROMIUM`, default /usr/bin/chromium), driven by Playwright; the
flags keep it from reaching for the network, which this machine does not have.
"""

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.parts import missing

CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-quic",
]
ARTIFACTS = Path(__file__).parents[2] / "test-artifacts"


def chromium_path() -> str | None:
    candidate = os.environ.get("IW_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    return candidate if candidate and Path(candidate).exists() else None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def lab_root(tmp_path_factory):
    return tmp_path_factory.mktemp("lab")


@pytest.fixture(scope="session")
def lab_server(lab_root):
    """(base_url, token) of a JupyterLab server rooted at `lab_root`."""
    port, token = free_port(), "interp-widgets-test"
    log = open(lab_root / "jupyter.log", "w")
    process = subprocess.Popen(
        [
            sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root", f"--port={port}", "--ip=127.0.0.1",
            f"--ServerApp.token={token}", f"--ServerApp.root_dir={lab_root}", "--LabApp.expose_app_in_browser=True",
            "--JupyterNotebookApp.expose_app_in_browser=True",
            "--LabApp.news_url=", "--ServerApp.open_browser=False",
            # Keep the user's own JupyterLab settings (theme, workspaces) out of the tests, and back.
            f"--LabApp.user_settings_dir={lab_root / '.settings'}", f"--LabApp.workspaces_dir={lab_root / '.workspaces'}",
        ],
        stdout=log, stderr=subprocess.STDOUT, cwd=lab_root,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + 90
    while True:
        try:
            urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2)
            break
        except OSError:
            if time.time() > deadline or process.poll() is not None:
                process.kill()
                raise RuntimeError(f"JupyterLab did not start:\n{(lab_root / 'jupyter.log').read_text()[-3000:]}")
            time.sleep(0.5)
    yield base, token
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()


@pytest.fixture(scope="session")
def browser():
    path = chromium_path()
    if path is None:  # a failure in CI; elsewhere a skip that the summary lists under "missing parts"
        missing("Chromium, for the browser tests", "scripts/test.sh installs it with apt-get; or set IW_CHROMIUM")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=path, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


@pytest.fixture()
def page(browser, request):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    console = []
    page.on("console", lambda message: console.append(f"{message.type}: {message.text}"))
    yield page
    failed = getattr(request.node, "rep_call", None)
    if failed is not None and failed.failed:
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"))
        (ARTIFACTS / f"{request.node.name}.console.txt").write_text("\n".join(console))
    context.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.when == "call":
        item.rep_call = report

