from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch  # pinned in requirements.lock and installed by `make`; the datasets cannot be tested without it

from facehealth.data.augment import Augment, AugmentConfig
from facehealth.data.datasets import CropDataset, FrameSequenceDataset, SubjectDataset
from facehealth.errors import SchemaError


@pytest.fixture(scope="module")
def labels(synth_cohort):
    return pd.read_csv(synth_cohort / "labels.csv")


def test_crop_dataset_items(prepared_synth, labels):
    ds = CropDataset(prepared_synth, labels, targets=["haemoglobin", "cad"], size=112)
    item = ds[0]
    assert item["image"].shape == (3, 112, 112) and item["image"].dtype == torch.float32
    row = labels.set_index("subject_id").loc[item["subject_id"]]
    np.testing.assert_allclose(item["target"].numpy(), [row["haemoglobin"], row["cad"]], rtol=1e-6)
    # ImageNet normalisation: roughly zero-centred values.
    assert -2.5 < float(item["image"].mean()) < 2.5


def test_subject_filter_and_missing_labels(prepared_synth, labels):
    some = sorted(labels["subject_id"])[:5]
    ds = CropDataset(prepared_synth, labels.iloc[1:], targets=["cad"], subjects=some)
    assert set(ds.manifest["subject_id"]) <= set(some)
    first = labels["subject_id"].iloc[0]
    items = [ds[i] for i in range(len(ds)) if ds.manifest.loc[i, "subject_id"] == first]
    assert all(torch.isnan(it["target"]).all() for it in items)


def test_subject_dataset_stacks_and_masks(prepared_synth, labels):
    ds = SubjectDataset(prepared_synth, labels, targets=["cad"], k=3, size=64)
    item = ds[0]
    assert item["image"].shape == (3, 3, 64, 64)
    n_real = int(item["mask"].sum())
    assert 1 <= n_real <= 2  # 2 photos per subject in this cohort, some may fail QC
    assert torch.all(item["image"][n_real:] == 0)
    batch = torch.utils.data.default_collate([ds[0], ds[1]])
    assert batch["image"].shape == (2, 3, 3, 64, 64)


def test_augmentation_is_reproducible_per_seed_and_epoch(prepared_synth):
    ds = CropDataset(prepared_synth, size=64, augment=Augment(), seed=5)
    a, b = ds[3]["image"], ds[3]["image"]
    assert torch.equal(a, b)
    ds.epoch = 1
    assert not torch.equal(a, ds[3]["image"])
    plain = CropDataset(prepared_synth, size=64)[3]["image"]
    assert not torch.equal(a, plain)


def test_augment_keeps_size_and_range():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (96, 96, 3), dtype=np.uint8)
    out = Augment(AugmentConfig(rotation=15))(image, rng)
    assert out.shape == image.shape and out.dtype == np.uint8
    assert (
        Augment(AugmentConfig(crop_scale=(1.0, 1.0), flip=False, rotation=0, brightness=0, contrast=0, saturation=0))(
            image, rng
        ).tolist()
        == image.tolist()
    )


def test_frame_sequences(tmp_path):
    from facehealth.config import load_config
    from facehealth.data.synth import SynthConfig, synthesize_cohort
    from facehealth.faces.config import FacesConfig
    from facehealth.faces.prepare import prepare_faces

    cohort = synthesize_cohort(tmp_path / "c", SynthConfig(subjects=2, images_per_subject=1, videos_per_subject=1))
    prepared = tmp_path / "p"
    prepare_faces(cohort, prepared, load_config(FacesConfig, overrides={"video": {"fps": 2.5}}), workers=1)
    labels = pd.read_csv(cohort / "labels.csv")
    labels["affective_code"] = labels["affective"].map({"healthy": 0, "MDD": 1, "BPD": 2})
    ds = FrameSequenceDataset(prepared, labels, targets=["affective_code"], length=32, size=64)
    assert len(ds) == 2
    item = ds[0]
    n = int(item["mask"].sum())
    assert 20 <= n <= 25  # 10 s at 2.5 fps, minus any frame the quality gate rejected
    times = item["time"][:n].numpy()
    assert np.all(np.diff(times) > 0) and times[-1] <= 10.0
    assert item["image"].shape == (32, 3, 64, 64)
    # Landmark motion rides along on request: one (68, 2) displacement per real frame, zeros as padding.
    moving = FrameSequenceDataset(prepared, labels, targets=["affective_code"], length=32, size=64, landmarks=True)[0]
    assert moving["landmarks"].shape == (32, 68, 2)
    assert moving["landmarks"][n:].abs().max() == 0 and moving["landmarks"][:n].abs().max() > 0.01
    bare = FrameSequenceDataset(prepared, length=32, landmarks=True, images=False)[0]  # landmarks-only models
    assert "image" not in bare and torch.equal(bare["landmarks"], moving["landmarks"])
    with pytest.raises(SchemaError, match="landmarks"):
        FrameSequenceDataset(
            prepared, manifest=ds.manifest.drop(columns=["landmarks"]), length=32, size=64, landmarks=True
        )
    # The same folder as an image dataset holds the two photos only, not the ~45 video frames.
    crops = CropDataset(prepared, labels, targets=["affective_code"], size=64)
    assert len(crops) == 2 and set(crops.manifest["kind"]) == {"image"}
