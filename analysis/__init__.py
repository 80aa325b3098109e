"""Analyses of Multimodal Pathway runs: functions over models, checkpoints and run folders that
return data and plotly figures.

- :mod:`analysis.pathway_strength`: λ per layer over training and at the end; effective contribution.
- :mod:`analysis.similarity`: weight cosine and representation CKA of target and auxiliary blocks.
- :mod:`analysis.block_order`: identity, reversed and permuted block pairings.
- :mod:`analysis.ablations`: several comparisons (layers, λ init, auxiliary epochs, controls) at once.
- :mod:`analysis.comparisons`: a comparison's figure (seeds, means, intervals, paired differences).
- :mod:`analysis.grid`: target x auxiliary pair grids (findings corrected for the number of pairs).
- :mod:`analysis.transfer`: transfer efficiency (the pathway's gain over the gain as an initialisation).
- :mod:`analysis.pretraining_epochs`: auxiliaries from earlier pretraining epochs (the paper's Table 6).
- :mod:`analysis.report`: the figures of an ``experiment`` run.
- :mod:`analysis.curves`, :mod:`analysis.runs`: training curves; reading run folders back.
- :mod:`analysis.segmentation`: a segmented cloud or canvas beside its truth.
- :mod:`analysis.figures`: saving figures (HTML, PNG where a Chrome is available).

Analysis reads models, checkpoints and run folders; it never starts a run (that is
:mod:`workflows`, one layer up) and imports only the library (:mod:`m2pt`, not its trainer) and
:mod:`data_tools`.
"""
