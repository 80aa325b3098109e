"""Importing the data tools in a Jupyter kernel prints no open3d banner and opens no stray comm."""

import os
import queue
from pathlib import Path

import pytest

jupyter_client = pytest.importorskip("jupyter_client")
ROOT = Path(__file__).resolve().parents[2]


def kernel_messages(code: str) -> list[dict]:
    """The iopub messages of running ``code`` in a fresh IPython kernel (the environment's python3)."""
    manager = jupyter_client.KernelManager(kernel_name="python3")
    manager.start_kernel(cwd=str(ROOT), env={**os.environ, "PYTHONPATH": str(ROOT)})
    client = manager.client()
    client.start_channels()
    try:
        client.wait_for_ready(timeout=60)
        msg_id = client.execute(code)
        found = []
        while True:
            try:
                message = client.get_iopub_msg(timeout=120)
            except queue.Empty:
                raise AssertionError(f"the kernel did not finish running {code!r}") from None
            if message["parent_header"].get("msg_id") != msg_id:
                continue
            found.append(message)
            if message["msg_type"] == "status" and message["content"]["execution_state"] == "idle":
                return found
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


def test_the_point_tools_import_quietly_in_a_kernel():
    messages = kernel_messages("import data_tools.points, open3d; print('imported', open3d.__version__)")
    text = "".join(m["content"].get("text", "") for m in messages if m["msg_type"] == "stream")
    errors = [m["content"] for m in messages if m["msg_type"] == "error"]
    assert not errors and "imported" in text, (errors, text)
    assert "WebVisualizer" not in text and "WebRTC" not in text, text
    opened = [m["content"].get("target_name") for m in messages if m["msg_type"] == "comm_open"]
    assert "dash" not in opened, opened
