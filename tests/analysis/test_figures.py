import logging

import plotly.graph_objects as go
import pytest

from analysis import figures


@pytest.fixture
def fig():
    return go.Figure(go.Bar(x=["a", "b"], y=[1, 2]))


def test_html_always_and_no_png_without_a_chrome(tmp_path, fig, monkeypatch):
    monkeypatch.setattr(figures, "png_export_available", lambda: False)
    written = figures.save_figure(fig, tmp_path / "sub" / "bars")
    assert written == [tmp_path / "sub" / "bars.html"]
    assert "plotly.min.js" in written[0].read_text()
    assert (tmp_path / "sub" / "plotly.min.js").is_file()  # one copy of the library, beside the figures
    assert not (tmp_path / "sub" / "bars.png").exists()


def test_png_when_a_chrome_is_found(tmp_path, fig, monkeypatch):
    monkeypatch.setattr(figures, "png_export_available", lambda: True)
    monkeypatch.setattr(go.Figure, "write_image", lambda self, path, **kw: path.write_bytes(b"\x89PNG"))
    written = figures.save_figure(fig, tmp_path / "bars")
    assert written == [tmp_path / "bars.html", tmp_path / "bars.png"]


def test_a_failing_chrome_leaves_the_html_and_warns(tmp_path, fig, monkeypatch, caplog):
    def broken(self, path, **kwargs):
        raise RuntimeError("chrome crashed")

    monkeypatch.setattr(figures, "png_export_available", lambda: True)
    monkeypatch.setattr(go.Figure, "write_image", broken)
    with caplog.at_level(logging.WARNING):
        written = figures.save_figure(fig, tmp_path / "bars")
    assert written == [tmp_path / "bars.html"] and "chrome crashed" in caplog.text
