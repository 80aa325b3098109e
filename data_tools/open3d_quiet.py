"""open3d without its Jupyter side effects: the data tools import ``o3d`` from here, not open3d.

In a Jupyter kernel, ``import open3d`` prints "Jupyter environment detected. Enabling Open3D
WebVisualizer." and starts its WebRTC window system, which logs two more lines; the workbench never
uses that visualizer. open3d's own switch, ``OPEN3D_DISABLE_WEB_VISUALIZER=true``, turns it off
before the import; a value the user set is kept.

open3d also imports dash (for ``draw_plotly``), and dash, in a kernel, opens a comm to a lab
extension of its own that the workbench does not install: the page then logs "Exception opening
new comm" for every kernel. During the import, comms with dash's target are made as
:class:`comm.DummyComm` (nothing is sent); every other comm is made as usual.
"""

import contextlib
import os
from collections.abc import Iterator

os.environ.setdefault("OPEN3D_DISABLE_WEB_VISUALIZER", "true")
SILENCED_COMM_TARGETS = frozenset({"dash"})


@contextlib.contextmanager
def _silenced_comms() -> Iterator[None]:
    try:
        import comm
    except ImportError:  # no Jupyter machinery installed: nothing to silence
        yield
        return
    create = comm.create_comm

    def create_unless_silenced(*args, **kwargs):
        if kwargs.get("target_name") in SILENCED_COMM_TARGETS:
            return comm.DummyComm(*args, **kwargs)
        return create(*args, **kwargs)

    comm.create_comm = create_unless_silenced
    try:
        yield
    finally:
        comm.create_comm = create


with _silenced_comms():
    import open3d as o3d  # noqa: E402  (after the switch)

__all__ = ["o3d"]
