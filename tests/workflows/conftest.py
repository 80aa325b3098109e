"""The tiny experiment run shared with the analysis tests (built once per session and xdist worker)."""

from tests.analysis.conftest import aux_encoder, cache, experiment_run, m2pt_run  # noqa: F401
