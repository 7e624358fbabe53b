"""The README's main command: `bash scripts/lab.sh` serves JupyterLab and prints the quickstart's own URL."""

import os
import re
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
pytestmark = pytest.mark.slow


def test_lab_command_prints_the_url_of_the_quickstart():
    env = {**os.environ, "BROWSER": "", "DISPLAY": ""}
    process = subprocess.Popen(["bash", "scripts/lab.sh"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        url, lines, deadline = None, [], time.monotonic() + 240
        while url is None and time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            lines.append(line)
            match = re.search(r"the quickstart notebook: (http://\S+)", line)
            url = match.group(1) if match else None
        assert url, "".join(lines)
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/lab/tree/00_quickstart\.ipynb\?token=[0-9a-f]{32}", url)
        base, token = url.split("/lab/")[0], url.split("token=")[1]
        deadline = time.monotonic() + 120
        while True:
            try:
                page = urllib.request.urlopen(url, timeout=5).read().decode()
                break
            except OSError:
                assert time.monotonic() < deadline and process.poll() is None, "".join(lines)
                time.sleep(0.5)
        assert "JupyterLab" in page
        contents = urllib.request.urlopen(f"{base}/api/contents/00_quickstart.ipynb?token={token}&content=0", timeout=10)
        assert contents.status == 200
    finally:
        os.killpg(process.pid, 15)
        process.wait(timeout=30)
