"""Explanations: which parts of a face drive each score, for one photo and across a cohort.

Modules: ``saliency`` (Grad-CAM, attention rollout, integrated gradients for any task head),
``overlay`` (colour overlays, crop -> photo mapping, image grids), ``regions`` (landmark-defined
facial regions, region shares and densities, cohort CIs, paired task comparison), ``photo``
(one photo explained on the photo itself), ``cohort`` (galleries and region tables for a
checkpoint), ``landmark_map`` and ``heatmap`` (per-landmark gradients and motion, group tests,
Gaussian heatmaps), ``landmark_scores`` (a per-landmark score table read from CSV),
``standard_face`` (the cohort's mean face in 2D and 3D) and ``facial_map`` (Emoface's digital
facial map between two diagnostic groups).
"""
