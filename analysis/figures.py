"""Saving figures: HTML always, PNG where kaleido can drive a Chrome.

HTML files reference one ``plotly.min.js`` written beside them, so a folder of figures opens
offline without embedding the library in every file. PNG export needs a Chrome or Chromium
(``bash workbench.sh setup`` with ``WORKBENCH_CHROME=1`` installs one); without it PNGs are
skipped quietly.
"""

import functools
import logging
from pathlib import Path

import plotly.graph_objects as go

log = logging.getLogger(__name__)


@functools.cache
def png_export_available() -> bool:
    """Whether kaleido finds a Chrome to render PNGs with (checked once per process)."""
    try:
        from choreographer.browsers.chromium import Chromium
    except ImportError:  # kaleido (and its browser driver) is optional
        return False
    return Chromium.find_browser(skip_local=False) is not None


def save_figure(fig: go.Figure, path: str | Path) -> list[Path]:
    """Write ``fig`` to ``<path>.html`` and, when possible, ``<path>.png``; return the files written.

    ``path`` is given without a suffix; its folder is created.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    html = path.with_name(path.name + ".html")
    fig.write_html(html, include_plotlyjs="directory")
    written = [html]
    if png_export_available():
        png = path.with_name(path.name + ".png")
        try:
            fig.write_image(png, scale=2)
            written.append(png)
        except Exception as error:  # a Chrome that is found but fails to start must not end a run
            log.warning("PNG export of %s failed (%s); the HTML file is written", png, error)
    return written
