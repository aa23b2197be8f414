"""A model trained on the synthetic cohort looks where the generator planted the sign.

The generator paints xanthelasma (yellow plaques on the upper lids near the inner eye
corners, strength ``0.6 (z_ldl + 0.3)`` clipped to [0, 0.9]) for high LDL cholesterol.
LDL's only other driver is age (coefficient 0.25 on its z-score), which shows in hair,
wrinkles and texture elsewhere on the face, so a model that leaned on age would put its
saliency on the forehead, hair or cheeks instead. Of the painted plaques' mass on the
224-px crops, 70% lies in the two periorbital regions, 28% in the unlabelled gap below
the brows and 1% in the brows (measured on 100 crops with the generator's own formula).

The test runs the real path: ``synthesize_cohort`` -> ``prepare_faces`` -> ``finetune``
(ResNet-18 from random init, 96 px, LDL only) -> ``explain_cohort`` (integrated
gradients) plus Grad-CAM through :func:`saliency`. Rankings use region *density*, the
measure ``explain.json`` ranks by. A random-init ResNet-18 is the control: integrated
gradients with a black baseline favour dark, high-contrast features, and the untrained
network already puts the brows and both periorbital regions in its top 3 (measured
densities 5.9, 3.8, 3.3). So "periorbital in the top 3" alone cannot fail for IG; the
test asks that a periorbital region rank *first*, hold clearly more density than the
untrained network gives it, and that the paired permutation test (``compare_tasks``) find
the two models' region profiles different.

Measured (seeds 0 / 1 / 2: cohort, split and training seed; one CPU thread, ~180 s each):
test Pearson r 0.87 / 0.81 / 0.82; IG density ranking periorbital_left (13.0 / 12.9 / 11.9),
brows (6.0 / 5.9 / 5.4), periorbital_right (5.8 / 5.2 / 4.4) for all three; untrained IG
periorbital_left 3.7 / 4.1 / 4.7 (trained/untrained 3.5 / 3.2 / 2.5); Grad-CAM periorbital_left
first (4.0 / 3.6 / 2.2, runner-up 1.9 / 1.9 / 1.4); trained vs untrained p = 0.0005 each.
Those seed-0 numbers come from a 2-thread run; with the test's one thread seed 0 trains a
different network (r 0.85, IG periorbital_left, periorbital_right, brows) whose Grad-CAM
ranks ear_right (1.39) above periorbital_left (1.15), so Grad-CAM is only asked for the top 3
(which the untrained network can also reach: it is IG and the control that discriminate).
Both plaques fall equally into their regions (35% / 36% of their mass), yet the networks
favour the image-left one (why is not established; without flips one side suffices); the test accepts
either side first.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

PERIORBITAL = ("periorbital_left", "periorbital_right")
MARKER = "ldl_cholesterol"
SIZE = 96  # IOD ~24 px: a plaque is ~7 x 3 px, enough for ResNet-18 from scratch in 10 epochs


def _train(root: Path, seed: int):  # noqa: ANN202 - (FinetuneResult, cohort dir, prepared dir)

    from facehealth.data.cohort import load_cohort
    from facehealth.data.splits import make_splits, save_splits
    from facehealth.data.synth import SynthConfig, synthesize_cohort
    from facehealth.faces.prepare import prepare_faces
    from facehealth.train.config import OptimConfig
    from facehealth.train.finetune import FinetuneConfig, finetune

    # 300 subjects x 2 photos: ~210 training subjects; at 200 x 1 the fit stays weak (r < 0.4).
    # Half the default nuisance keeps pose and light from swamping a 7-px sign.
    cohort = synthesize_cohort(
        root / "cohort", SynthConfig(subjects=300, images_per_subject=2, nuisance=0.5, seed=seed)
    )
    prepared = root / "faces"
    prepare_faces(cohort, prepared, workers=1)
    save_splits(make_splits(load_cohort(cohort).subject_labels(), seed), cohort)
    cfg = FinetuneConfig(
        cohort=str(cohort),
        prepared=str(prepared),
        out_dir=str(root / "ft"),
        backbone="resnet18",
        img_size=SIZE,
        tasks=("biomarkers",),
        biomarkers=(MARKER,),
        head_init="random",
        # No augmentation: on 420 crops the random resized crop and colour jitter kept the
        # from-scratch network from finding the small sign within 8 epochs (test r 0.24).
        augment=False,
        epochs=10,
        patience=10,
        batch_size=32,
        optim=OptimConfig(base_lr=2.4e-2, warmup_epochs=0.5, betas=(0.9, 0.999)),  # peak lr 3e-3
        seed=seed,
        device="cpu",
    )
    return finetune(cfg), cohort, prepared


def _density_ranking(maps, landmarks, subjects, rng) -> list[tuple[str, float]]:  # noqa: ANN001
    """Landmark regions by cohort-mean density (the ranking ``explain_cohort`` writes)."""
    from facehealth.explain.regions import aggregate_regions, region_attribution

    items = [region_attribution(m, lm, crop_size=224) for m, lm in zip(maps, landmarks)]
    summary = aggregate_regions(items, subjects, rng, "density", n_boot=10)
    return [(s.region, s.mean) for s in sorted(summary, key=lambda s: -s.mean) if s.region != "other"]


def planted_sign_saliency(root: Path, seed: int) -> dict:
    """Train on a fresh cohort and explain it; returns the numbers the test checks (printed too)."""
    from tests.conftest import torch_threads

    with torch_threads(1):
        return _planted_sign_saliency(root, seed)


def _planted_sign_saliency(root: Path, seed: int) -> dict:
    import torch

    from facehealth.data.datasets import load_crop
    from facehealth.evaluate.clinical import point_metrics
    from facehealth.explain.cohort import explain_cohort
    from facehealth.explain.regions import compare_tasks, landmarks_to_crop, region_attribution
    from facehealth.explain.saliency import saliency, to_model_input
    from facehealth.models.multitask import MultiTaskModel
    from facehealth.models.predictor import model_from_checkpoint

    result, cohort, prepared = _train(root, seed)
    explained = explain_cohort(
        result.checkpoint,
        prepared,
        root / "explain",
        tasks=[f"biomarkers:{MARKER}"],
        n_subjects=24,
        method="ig",
        split="test",
        steps=8,
        n_boot=200,
        seed=seed,
    )
    table = pd.read_csv(explained.regions_csv).set_index("region")
    settings = json.loads((root / "explain" / "explain.json").read_text())

    # The same test photos for Grad-CAM and for the untrained control.
    manifest = pd.read_parquet(prepared / "manifest.parquet")
    rows = manifest[manifest["subject_id"].isin(settings["subjects"])].sort_values("crop_path")
    crops = [load_crop(prepared / p) for p in rows["crop_path"]]
    landmarks = [
        landmarks_to_crop(np.reshape(a, (68, 2)), np.asarray(b)) for a, b in zip(rows["landmarks"], rows["matrix"])
    ]
    subjects = rows["subject_id"].to_numpy()
    x = to_model_input(crops, SIZE)
    model, _ = model_from_checkpoint(result.checkpoint)
    torch.manual_seed(seed)  # finetune's own seeding: the control is the trained model's starting point
    untrained = MultiTaskModel("resnet18", model.tasks, SIZE)
    rng = np.random.default_rng(seed)
    # Grad-CAM at layer3 (6x6 at 96 px): layer4's 3x3 grid is coarser than the eye regions.
    cam = saliency(model, x, "biomarkers", 0, "gradcam", layer=model.backbone.layer3)
    ig_trained = saliency(model, x, "biomarkers", 0, "ig", steps=8)
    ig_untrained = saliency(untrained, x, "biomarkers", 0, "ig", steps=8)
    trained_items = [region_attribution(m, lm, crop_size=224) for m, lm in zip(ig_trained, landmarks)]
    untrained_items = [region_attribution(m, lm, crop_size=224) for m, lm in zip(ig_untrained, landmarks)]
    comparison = compare_tasks(trained_items, untrained_items, subjects, rng)
    out = {
        "seed": seed,
        "test_r": point_metrics(result.predictions, result.labels, result.tasks)["test"][f"{MARKER}_r"],
        "ig_ranking": settings["ranking_by_density"][f"biomarkers:{MARKER}"],
        "ig_density": table["density"].round(2).to_dict(),
        "ig_share": table["share"].round(3).to_dict(),
        "gradcam_ranking": _density_ranking(cam, landmarks, subjects, rng),
        "untrained_ig_ranking": _density_ranking(ig_untrained, landmarks, subjects, rng),
        "trained_vs_untrained_p": comparison.p_value,
        "periorbital_share_gain": sum(comparison.difference[r] for r in PERIORBITAL),
    }
    for key, value in out.items():
        shown = [(k, round(v, 2)) for k, v in value] if key.endswith("ranking") and key != "ig_ranking" else value
        print(f"{key}: {shown}")
    return out


@pytest.mark.slow
def test_saliency_of_a_model_trained_for_ldl_finds_the_xanthelasma(tmp_path):
    """Seed 0; the module docstring lists seeds 0-2, which all pass with the margins below."""
    r = planted_sign_saliency(tmp_path, seed=0)
    assert r["test_r"] > 0.6  # it learned LDL (measured 0.87 at seed 0)
    # Integrated gradients, through explain_cohort: a periorbital region first, both in the top 3.
    assert r["ig_ranking"][0] in PERIORBITAL, r["ig_ranking"]
    assert set(PERIORBITAL) <= set(r["ig_ranking"][:3]), r["ig_ranking"]
    # Grad-CAM (layer3) is the weaker check: top 3 only (first in 3 of 4 runs; see the docstring).
    assert any(region in PERIORBITAL for region, _ in r["gradcam_ranking"][:3]), r["gradcam_ranking"]
    # Control: training, not the eyes' contrast, put the saliency there.
    untrained = dict(r["untrained_ig_ranking"])
    best = max(PERIORBITAL, key=lambda k: r["ig_density"][k])
    assert r["ig_density"][best] > 2 * untrained[best], (r["ig_density"], untrained)
    assert r["trained_vs_untrained_p"] < 0.01 and r["periorbital_share_gain"] > 0
