"""Notebooks 01 and 07 as a researcher meets them: opened in JupyterLab in Chromium, every cell run.

Checked in the page: no dialog in the way, widgets rendered as controls (never "Error displaying
widget"), plotly figures drawn as SVG, a run launched with the *Launch* button after a dropdown
change finishes and is shown, and a reload with the kernel alive keeps every widget. Checked in the
saved notebook: no error output, no Open3D start-up text, the merge summary printed once.
"""

import re
from pathlib import Path

import nbformat
import pytest
from playwright.sync_api import Page, expect

from m2pt.run_dir import RunDir
from tests.browser.conftest import ARTEFACTS

pytestmark = [pytest.mark.browser, pytest.mark.slow]

RUN_SECONDS = 240
EPOCHS = 30  # of the run launched with the button  # all cells of a notebook at small size, on a shared CI core


expect.set_options(timeout=30_000)


def open_notebook(page: Page, url: str | None = None) -> None:
    """Go to ``url`` (or reload) and wait for the notebook with an idle kernel and no dialog."""
    if url is None:
        page.reload()
    else:
        page.goto(url)
    expect(page.locator(".jp-Notebook")).to_be_visible()
    expect(page.locator(".jp-StatusBar-TextItem", has_text="| Idle").first).to_be_visible()  # kernel connected
    expect(page.locator(".jp-Dialog")).to_have_count(0)  # e.g. "Build Recommended" would block every click


def run_all_cells(page: Page) -> None:
    """Run > Run All Cells, then wait until every code cell has an execution count and the kernel is idle."""
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.get_by_text("Run All Cells", exact=True).click()
    expect(page.locator(".jp-CodeCell .jp-InputArea-prompt", has_text="[1]")).to_have_count(1)  # started
    page.wait_for_function(
        """() => {
            const prompts = [...document.querySelectorAll('.jp-CodeCell .jp-InputArea-prompt')];
            const idle = document.querySelector(".jp-Notebook-ExecutionIndicator[data-status='idle']");
            return prompts.length > 0 && idle && prompts.every(p => /\\[\\d+\\]/.test(p.textContent));
        }""",
        timeout=RUN_SECONDS * 1000,
        polling=1000,
    )


def save(page: Page, path: Path) -> nbformat.NotebookNode:
    """Save the notebook from the page (Ctrl+S) and read it back from disk once written."""
    before = path.stat().st_mtime_ns
    page.locator(".jp-Notebook").click(position={"x": 5, "y": 5})
    page.keyboard.press("Control+s")
    page.wait_for_function("() => !document.querySelector('.jp-mod-dirty')", polling=200)
    assert path.stat().st_mtime_ns != before, f"{path.name} was not saved"
    return nbformat.read(path, as_version=4)


def output_texts(notebook: nbformat.NotebookNode) -> list[str]:
    texts = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            if output.output_type == "error":
                pytest.fail(f"cell raised {output.ename}: {output.evalue}")
            texts.append(output.get("text", "") + str(output.get("data", {}).get("text/plain", "")))
    return texts


def expect_widgets_rendered(page: Page) -> None:
    expect(page.get_by_text("Error displaying widget")).to_have_count(0)
    expect(page.get_by_text("Loading widget...")).to_have_count(0)
    for label in ("target", "auxiliary", "setting", "λ init"):
        expect(page.locator(".widget-dropdown", has_text=label).locator("select")).to_have_count(1)
    expect(page.get_by_role("button", name="Launch", exact=True)).to_be_enabled()
    expect(page.locator(".widget-dropdown", has_text="run").locator("select")).to_have_count(1)
    expect(page.locator(".widget-slider", has_text="logged step")).to_have_count(1)
    figures = page.locator(".widget-output .js-plotly-plot")
    expect(figures).to_have_count(2)  # the launcher's loss curves, the viewer's heatmap
    expect(figures.nth(0).locator(".scatterlayer .trace path.js-line").first).to_be_attached()
    expect(figures.nth(1).locator(".heatmaplayer image")).to_have_count(1)


def expect_no_console_errors(page: Page) -> None:
    errors = [m for m in page.console_messages if m.startswith("error")]
    assert not errors, f"the page logged errors: {errors}"


def screenshot_widgets(page: Page, moment: str) -> None:
    page.locator(".widget-vbox", has=page.get_by_role("button", name="Launch", exact=True)).first.screenshot(
        path=ARTEFACTS / f"07_widgets-{moment}-launcher.png"
    )
    page.locator(".widget-vbox", has=page.locator(".widget-slider")).last.screenshot(
        path=ARTEFACTS / f"07_widgets-{moment}-viewer.png"
    )


def test_quickstart_runs_in_lab(lab, page, tmp_path):
    path = lab.add_notebook("01_quickstart.ipynb", tmp_path / "runs")
    open_notebook(page, lab.page_url(path.name))
    run_all_cells(page)
    expect(page.locator(".js-plotly-plot .main-svg").first).to_be_visible()
    assert page.locator(".js-plotly-plot").count() == 3  # λ over training, λ at the end, contribution
    assert page.locator(".js-plotly-plot .scatterlayer .trace path.js-line").count() >= 3  # λ lines drawn
    assert page.locator(".js-plotly-plot .heatmaplayer image").count() >= 2  # the two heatmaps drawn
    for index, figure in enumerate(page.locator(".js-plotly-plot").all()):
        figure.screenshot(path=ARTEFACTS / f"01_quickstart-figure{index}.png")
    texts = "\n".join(output_texts(save(page, path)))
    assert "WebVisualizer" not in texts and "Open3D INFO" not in texts
    assert texts.count("max |output difference|") == 1 and "verified" in texts  # the merge summary, once
    expect_no_console_errors(page)


def test_widgets_launch_and_survive_a_reload(lab, page, tmp_path):
    path = lab.add_notebook("07_widgets.ipynb", tmp_path / "runs")
    open_notebook(page, lab.page_url(path.name))
    run_all_cells(page)
    expect_widgets_rendered(page)
    status = page.locator(".widget-html", has_text="done: ")
    progress_bar = page.locator(".widget-hprogress", has_text="epochs").locator(".progress-bar")
    expect(status).to_contain_text("image_audio_from_scratch_tune_1")

    page.locator(".widget-dropdown", has_text="auxiliary").locator("select").select_option(label="random")
    epochs = page.locator(".widget-text", has_text="epochs").locator("input")
    epochs.fill(str(EPOCHS))  # long enough to run a cell while it trains
    epochs.press("Enter")
    page.get_by_role("button", name="Launch", exact=True).click()
    viewer_cell = page.locator(".jp-CodeCell", has_text="PathwayViewer(run")
    viewer_cell.locator(".jp-InputArea-editor").click()
    page.keyboard.press("Control+Enter")  # run the viewer's cell again while the launched run trains
    expect(status).to_contain_text("image_random_from_scratch_tune_1", timeout=RUN_SECONDS * 1000)
    assert RunDir(tmp_path / "runs" / "image_random_from_scratch_tune_1", writer=False).finished
    picker = page.locator(".widget-dropdown", has_text="run").locator("select")
    expect(picker).to_have_value("image_random_from_scratch_tune_1")  # the viewer follows the launched run
    expect(page.locator(".widget-html", has_text=f"epoch {EPOCHS}/{EPOCHS} done")).to_have_count(1)  # progress
    expect(progress_bar).to_have_attribute("style", re.compile(r"width: 100%"))
    log = page.locator(
        ".widget-output", has_text=re.compile(rf"image_random_from_scratch_tune_1: epoch {EPOCHS}/{EPOCHS} \(step")
    )
    expect(log).to_have_count(1)  # the run's log, in the launcher
    expect(viewer_cell.locator(".jp-Cell-outputArea")).not_to_contain_text("train loss")  # no stray output
    screenshot_widgets(page, "launched")

    save(page, path)
    open_notebook(page)  # a reload, the kernel alive
    expect_widgets_rendered(page)
    expect(status).to_contain_text("image_random_from_scratch_tune_1")
    expect(progress_bar).to_have_attribute("style", re.compile(r"width: 100%"))
    expect(log).to_have_count(1)
    screenshot_widgets(page, "reloaded")
    expect_no_console_errors(page)
