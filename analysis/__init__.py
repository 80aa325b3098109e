"""Analyses of Multimodal Pathway runs: functions over models, checkpoints and run folders that
return data and plotly figures.

- :mod:`analysis.pathway_strength`: λ per layer over training and at the end; effective contribution.
- :mod:`analysis.similarity`: weight cosine and representation CKA of target and auxiliary blocks.
- :mod:`analysis.block_order`: identity, reversed and permuted block pairings.
- :mod:`analysis.ablations`: layers, λ init and trainability, auxiliary epochs, controls.
- :mod:`analysis.arms`, :mod:`analysis.comparisons`: running arms with the trainer; comparison figures.
- :mod:`analysis.grid`: target x auxiliary pair grids.
- :mod:`analysis.report`: the figures of an ``experiment`` run.
- :mod:`analysis.presets`, :mod:`analysis.widgets`: settings and widgets for the notebooks.
- :mod:`analysis.figures`: saving figures (HTML, PNG where a Chrome is available).
"""
