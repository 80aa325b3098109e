"""JupyterLab on a loopback port and headless Chromium (the distribution's package) driven by Playwright.

The server serves a temporary folder into which each test copies the notebooks it opens, with
``OUTPUT_DIR`` pointed at a temporary runs folder. Kernels are this interpreter with this checkout
first on ``PYTHONPATH`` (a ``python3`` kernel spec found first through ``JUPYTER_PATH``). Where this
checkout's ``.venv`` runs the tests (CI: ``bash workbench.sh test``), the server is started by
``bash workbench.sh lab``, the command researchers use; elsewhere by the same ``jupyter lab``
arguments. Screenshots and the browser console go to ``test-artefacts/browser/`` (git ignores it).

Chromium: ``/usr/bin/chromium`` (apt ``chromium``, installed by ``workbench.sh test``) or
``$M2PT_CHROMIUM``. Without one the tests skip, except under CI, where they fail.
"""

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[2]
ARTEFACTS = ROOT / "test-artefacts" / "browser"
TOKEN = "m2pt-browser-test"
# Flags for Chromium as root on a closed network (Playwright adds --headless and a fresh profile).
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
]  # fmt: skip
# JupyterLab settings for the test: no news or update check (no network), every cell rendered.
SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false", "checkForUpdates": False},
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
}


def _chromium() -> str:
    found = os.environ.get("M2PT_CHROMIUM") or shutil.which("chromium")
    if found is None:
        message = "no Chromium: apt-get install chromium (bash workbench.sh test does), or set M2PT_CHROMIUM"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return found


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _lab_command(port: int, root_dir: Path) -> list[str]:
    flags = ["--ServerApp.ip=127.0.0.1", f"--port={port}", f"--IdentityProvider.token={TOKEN}",
             f"--ServerApp.root_dir={root_dir}", "--ServerApp.port_retries=0", "--no-browser"]  # fmt: skip
    if Path(sys.prefix).resolve() == (ROOT / ".venv").resolve():
        return ["bash", str(ROOT / "workbench.sh"), "lab", *flags]
    return [sys.executable, "-m", "jupyterlab", *(["--allow-root"] if os.geteuid() == 0 else []), *flags]


class Lab:
    """A running JupyterLab: its URL, the folder it serves, and its log."""

    def __init__(self, url: str, root_dir: Path, log: Path) -> None:
        self.url, self.root_dir, self.log = url, root_dir, log

    def add_notebook(self, name: str, output_dir: Path) -> Path:
        """Copy ``notebooks/<name>`` into the served folder with ``OUTPUT_DIR`` set to ``output_dir``."""
        notebook = nbformat.read(ROOT / "notebooks" / name, as_version=4)
        (cell,) = [c for c in notebook.cells if "parameters" in c.metadata.get("tags", [])]
        lines = [f"OUTPUT_DIR = {str(output_dir)!r}" if line.startswith("OUTPUT_DIR = ") else line
                 for line in cell.source.splitlines()]  # fmt: skip
        cell.source = "\n".join(lines)
        nbformat.write(notebook, self.root_dir / name)
        return self.root_dir / name

    def page_url(self, name: str) -> str:
        """The notebook alone in a workspace of its own (the default one would reopen earlier tabs)."""
        return f"{self.url}lab/workspaces/{Path(name).stem}/tree/{name}?token={TOKEN}"


@pytest.fixture(scope="module")
def lab(tmp_path_factory) -> Iterator[Lab]:
    work = tmp_path_factory.mktemp("lab")
    root_dir, settings = work / "served", work / "settings"
    root_dir.mkdir()
    for name, values in SETTINGS.items():
        (settings / name).parent.mkdir(parents=True, exist_ok=True)
        (settings / name).write_text(json.dumps(values))
    spec = work / "jupyter" / "kernels" / "python3"
    spec.mkdir(parents=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    (spec / "kernel.json").write_text(json.dumps({"argv": argv, "display_name": "Python 3", "language": "python"}))
    paths = [str(ROOT), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    env = os.environ | {
        "PYTHONPATH": os.pathsep.join(paths),
        "JUPYTER_PATH": str(work / "jupyter"),
        "JUPYTER_CONFIG_DIR": str(work / "config"),
        "JUPYTER_RUNTIME_DIR": str(work / "runtime"),
        "JUPYTERLAB_SETTINGS_DIR": str(settings),
        "JUPYTERLAB_WORKSPACES_DIR": str(work / "workspaces"),
        "M2PT_CACHE": str(work / "cache"),
        "OMP_NUM_THREADS": "1",
    }
    port = _free_port()
    log = work / "server.log"
    with log.open("w") as out:
        server = subprocess.Popen(_lab_command(port, root_dir), env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 120
        while f"{url}lab?token=" not in log.read_text():  # the URL it prints (a token it was given shows as ...)
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"JupyterLab did not print its URL (exit code {server.poll()}):\n{log.read_text()}")
            time.sleep(0.5)
        yield Lab(url, root_dir, log)
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
        ARTEFACTS.mkdir(parents=True, exist_ok=True)
        shutil.copy(log, ARTEFACTS / "server.log")


@pytest.fixture(scope="module")
def browser(lab):
    from playwright.sync_api import sync_playwright

    executable = _chromium()
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser, request):
    """A fresh page; on teardown its screenshot and console messages go to the artefact folder."""
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport={"width": 1400, "height": 2000})
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.console_messages = []
    page.on("console", lambda message: page.console_messages.append(f"{message.type}: {message.text}"))
    yield page
    name = request.node.name
    page.screenshot(path=ARTEFACTS / f"{name}-last.png")
    (ARTEFACTS / f"{name}-console.txt").write_text("\n".join(page.console_messages) + "\n")
    print(f"browser artefacts: {ARTEFACTS}")
    context.close()
