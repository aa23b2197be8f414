"""The masked autoencoder: patch layout, masking, the masked-patch loss, determinism and learning.

A ViT-Ti at 64 px has (64 / 16)^2 = 16 patches of 16 * 16 * 3 = 768 values; with the paper's 0.75 ratio the
encoder sees 4 of them. Each test runs in well under a second on a CPU.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from facehealth.models.mae import MaskedAutoencoder, patchify, random_masking

SIZE, PATCH = 64, 16
L = (SIZE // PATCH) ** 2  # 16 patches
PIXELS = PATCH * PATCH * 3  # 768 values per patch


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # see tests/conftest.py: torch_threads


@pytest.fixture(scope="module")
def mae() -> MaskedAutoencoder:
    """Built once (a ViT takes seconds to initialise); tests that train or change it take a deep copy."""
    torch.manual_seed(0)
    return MaskedAutoencoder("vit_tiny_patch16", SIZE, decoder_dim=64, decoder_depth=1, decoder_heads=4).eval()


def _images(n: int = 3, seed: int = 0) -> torch.Tensor:
    """Smooth random images (a few low-frequency waves per channel), roughly unit scale, (n, 3, 64, 64)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE] / SIZE
    out = np.zeros((n, 3, SIZE, SIZE))
    for i in range(n):
        for c in range(3):
            for _ in range(3):
                fx, fy, phase = rng.uniform(0.5, 3, 2).tolist() + [rng.uniform(0, 2 * np.pi)]
                out[i, c] += np.sin(2 * np.pi * (fx * xx + fy * yy) + phase)
    return torch.tensor(out, dtype=torch.float32)


def _patch_pixels(index: int) -> tuple[slice, slice]:
    """The (rows, cols) of patch ``index`` in row-major patch order."""
    r, c = divmod(index, SIZE // PATCH)
    return slice(r * PATCH, (r + 1) * PATCH), slice(c * PATCH, (c + 1) * PATCH)


def test_patchify_and_masking_shapes():
    images = torch.arange(2 * 3 * 32 * 32, dtype=torch.float32).reshape(2, 3, 32, 32)
    patches = patchify(images, 16)
    assert patches.shape == (2, 4, 16 * 16 * 3)
    # The first patch of the first image holds its top-left 16x16 block, channels last.
    assert torch.equal(patches[0, 0].reshape(16, 16, 3).permute(2, 0, 1), images[0, :, :16, :16])
    tokens = torch.randn(2, 4, 8)
    kept, mask, restore = random_masking(tokens, 0.75, torch.Generator().manual_seed(0))
    assert kept.shape == (2, 1, 8) and mask.sum().item() == 6
    # The kept token is one of the originals, at a position the mask marks visible.
    for b in range(2):
        visible = int((mask[b] == 0).nonzero())
        assert torch.equal(kept[b, 0], tokens[b, visible])


def test_patch_order_is_row_major():
    images = _images(1)
    patches = patchify(images, PATCH)
    rows, cols = _patch_pixels(6)  # row 1, column 2 of the 4x4 grid
    assert torch.equal(patches[0, 6].reshape(PATCH, PATCH, 3).permute(2, 0, 1), images[0, :, rows, cols])


def test_noise_decides_the_mask_and_restore_undoes_the_shuffle():
    tokens = torch.randn(2, L, 5)
    noise = torch.stack([torch.arange(L, dtype=torch.float32), torch.arange(L, 0, -1, dtype=torch.float32)])
    kept, mask, restore = random_masking(tokens, 0.75, noise=noise)
    # The lowest noise values are kept: the first 4 patches of row 0, the last 4 of row 1.
    assert torch.equal(mask[0], torch.tensor([0.0] * 4 + [1.0] * 12))
    assert torch.equal(mask[1], torch.tensor([1.0] * 12 + [0.0] * 4))
    assert torch.equal(kept[0], tokens[0, :4]) and torch.equal(kept[1], tokens[1, [15, 14, 13, 12]])
    shuffle = noise.argsort(dim=1)
    assert torch.equal(shuffle.gather(1, restore), torch.arange(L).expand(2, -1))
    # However high the ratio, the encoder keeps at least one patch.
    assert random_masking(tokens, 1.0, noise=noise)[0].shape == (2, 1, 5)


@pytest.mark.parametrize("ratio, masked", [(0.75, 12), (0.5, 8), (0.6, 10)])  # 0.6: keep round(6.4) = 6
def test_forward_shapes_and_the_number_of_masked_patches(mae, ratio, masked):
    images = _images(3)
    with torch.no_grad():
        loss, pred, mask = mae(images, mask_ratio=ratio, generator=torch.Generator().manual_seed(1))
        latent, _, _ = mae.encode(images, ratio, torch.Generator().manual_seed(1))
    assert loss.shape == () and torch.isfinite(loss)
    assert pred.shape == (3, L, PIXELS) and mask.shape == (3, L)
    assert set(mask.unique().tolist()) <= {0.0, 1.0}
    assert mask.sum(dim=1).tolist() == [masked] * 3
    assert latent.shape == (3, 1 + L - masked, mae.encoder.embed_dim)  # class token + visible patches only
    # The masks differ between the images of a batch (one noise row each).
    assert not torch.equal(mask[0], mask[1])


def test_the_default_ratio_is_the_models(mae):
    with torch.no_grad():
        _, _, mask = mae(_images(2), generator=torch.Generator().manual_seed(0))
    assert mae.mask_ratio == 0.75 and mask.sum(dim=1).tolist() == [12, 12]


@pytest.mark.parametrize("norm_pix_loss", [True, False])
def test_loss_is_the_mean_squared_error_on_masked_patches_by_hand(mae, norm_pix_loss, monkeypatch):
    model = mae
    monkeypatch.setattr(model, "norm_pix_loss", norm_pix_loss)
    images = _images(2, seed=3)
    with torch.no_grad():
        loss, pred, mask = model(images, generator=torch.Generator().manual_seed(2))
    target = patchify(images, PATCH).double().numpy()
    if norm_pix_loss:  # each patch to zero mean, unit (unbiased) variance
        target = (target - target.mean(-1, keepdims=True)) / np.sqrt(target.var(-1, ddof=1, keepdims=True) + 1e-6)
    m = mask.numpy().astype(bool)
    by_hand = np.mean((pred.double().numpy()[m] - target[m]) ** 2)  # (masked patches, 768) -> one mean
    assert float(loss) == pytest.approx(by_hand, rel=1e-5)
    everywhere = np.mean((pred.double().numpy() - target) ** 2)
    assert abs(by_hand - everywhere) > 1e-3  # the test can tell masked-only from all patches


def test_visible_patches_do_not_enter_the_loss_and_masked_ones_do_not_reach_the_encoder(mae):
    images = _images(1, seed=4)
    noise = torch.arange(L, dtype=torch.float32).unsqueeze(0)  # patches 0-3 visible, 4-15 masked
    with torch.no_grad():
        loss, pred, mask = mae(images, noise=noise)
        latent, _, _ = mae.encode(images, mae.mask_ratio, noise=noise)
    assert mask[0, :4].sum() == 0 and mask[0, 4:].sum() == 12

    other_visible = images.clone()
    rows, cols = _patch_pixels(1)
    other_visible[0, :, rows, cols] = torch.randn(3, PATCH, PATCH)
    assert float(mae.loss(other_visible, pred, mask)) == pytest.approx(float(loss), rel=1e-6)

    other_masked = images.clone()
    rows, cols = _patch_pixels(9)
    other_masked[0, :, rows, cols] = torch.randn(3, PATCH, PATCH)
    # Normalised patches all have unit variance, so one of 12 masked patches moves the loss only a little,
    # but far beyond float32 rounding.
    assert abs(float(mae.loss(other_masked, pred, mask)) - float(loss)) > 1e-4
    # The encoder sees only the visible patches: changing a masked one leaves its output unchanged.
    with torch.no_grad():
        latent_masked_changed, _, _ = mae.encode(other_masked, mae.mask_ratio, noise=noise)
        latent_visible_changed, _, _ = mae.encode(other_visible, mae.mask_ratio, noise=noise)
    assert torch.equal(latent_masked_changed, latent)
    assert not torch.allclose(latent_visible_changed, latent)


def test_a_seeded_generator_makes_the_forward_pass_reproducible_and_leaves_the_global_rng_alone(mae):
    images = _images(2)
    state = torch.get_rng_state()
    with torch.no_grad():
        a = mae(images, generator=torch.Generator().manual_seed(7))
        b = mae(images, generator=torch.Generator().manual_seed(7))
        c = mae(images, generator=torch.Generator().manual_seed(8))
    assert torch.equal(torch.get_rng_state(), state)
    assert torch.equal(a[2], b[2]) and torch.equal(a[1], b[1]) and float(a[0]) == float(b[0])
    assert not torch.equal(a[2], c[2])


def test_a_few_optimisation_steps_on_a_fixed_batch_reduce_the_loss(mae):
    model = copy.deepcopy(mae).train()
    images = _images(4, seed=5)
    optimiser = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.0)
    losses = []
    for _ in range(40):  # one fixed mask, so the decoder can fit this batch (~2 s on one CPU thread)
        loss, _, _ = model(images, generator=torch.Generator().manual_seed(0))
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
    assert all(np.isfinite(losses))
    # Predicting each normalised patch's mean (zero) scores (767 / 768) ~ 1.0; the model must do better
    # than that, not merely shrink its initial outputs.
    assert losses[-1] < 0.9 and losses[-1] < 0.7 * losses[0], losses


def test_mae_rejects_a_cnn_backbone():
    with pytest.raises(ValueError, match="needs a ViT"):
        MaskedAutoencoder("resnet18")
