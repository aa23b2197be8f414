"""Explanations: saliency maps for any task head, overlays on crops and photos, facial-region attribution.

Modules: ``saliency`` (Grad-CAM, attention rollout, integrated gradients), ``overlay``
(colour overlays, crop -> photo mapping), ``regions`` (landmark-defined regions, region
shares, cohort CIs, task comparison), ``cohort`` (galleries and tables for a checkpoint).
"""
