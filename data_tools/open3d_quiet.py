"""open3d without its Jupyter start-up text: the data tools import ``o3d`` from here, not open3d.

In a Jupyter kernel, ``import open3d`` prints "Jupyter environment detected. Enabling Open3D
WebVisualizer." and starts its WebRTC window system, which logs two more lines; the workbench never
uses that visualizer. open3d's own switch, ``OPEN3D_DISABLE_WEB_VISUALIZER=true``, turns it off
before the import; a value the user set is kept.
"""

import os

os.environ.setdefault("OPEN3D_DISABLE_WEB_VISUALIZER", "true")

import open3d as o3d  # noqa: E402  (after the switch)

__all__ = ["o3d"]
