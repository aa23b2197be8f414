"""Masked autoencoder (He et al., "Masked Autoencoders Are Scalable Vision Learners", CVPR 2022).

The encoder is a timm ViT from the registry; it sees only the visible 25% of
patches. A lightweight decoder (narrower, fewer blocks) reconstructs the
pixels of the masked patches; the loss is the mean squared error on masked
patches of per-patch normalised pixels (``norm_pix_loss``), as in the paper.
After pretraining, ``encoder`` is the backbone the clinical heads fine-tune.
"""

from __future__ import annotations

import torch
from torch import nn

from facehealth.models.registry import create_model, get_spec

__all__ = ["MaskedAutoencoder", "patchify", "random_masking"]


def patchify(images: torch.Tensor, patch: int) -> torch.Tensor:
    """(B, 3, H, W) -> (B, L, patch*patch*3) with L = (H/patch)*(W/patch)."""
    b, c, h, w = images.shape
    x = images.reshape(b, c, h // patch, patch, w // patch, patch)
    return x.permute(0, 2, 4, 3, 5, 1).reshape(b, (h // patch) * (w // patch), patch * patch * c)


def random_masking(
    tokens: torch.Tensor, ratio: float, generator: torch.Generator | None = None, noise: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Keep a random (1 - ratio) share of tokens per sample.

    Args:
        tokens: (B, L, D).
        noise: optional (B, L) uniform noise deciding the mask (lowest values are kept);
            data-parallel ranks pass their rows of one global draw so the masks equal a
            single-process run's.
    Returns:
        kept (B, L_keep, D), mask (B, L) with 1 = masked, restore (B, L) indices that undo the shuffle.
    """
    b, length, d = tokens.shape
    keep = max(1, int(round(length * (1 - ratio))))
    if noise is None:
        noise = torch.rand(b, length, device=tokens.device, generator=generator)
    shuffle = noise.argsort(dim=1)
    restore = shuffle.argsort(dim=1)
    kept_idx = shuffle[:, :keep]
    kept = tokens.gather(1, kept_idx.unsqueeze(-1).expand(-1, -1, d))
    mask = torch.ones(b, length, device=tokens.device)
    mask[:, :keep] = 0
    return kept, mask.gather(1, restore), restore


class MaskedAutoencoder(nn.Module):
    """MAE around a registry ViT.

    Args:
        backbone: a ViT name from the registry (e.g. ``vit_small_patch16``).
        img_size: input side in px.
        mask_ratio: share of patches hidden from the encoder (0.75 in the paper).
        decoder_dim, decoder_depth, decoder_heads: the lightweight decoder
            (the paper uses 512/8/16 for ViT-B; smaller suffices for small inputs).
        norm_pix_loss: normalise each target patch by its own mean and variance.
    """

    def __init__(
        self,
        backbone: str = "vit_small_patch16",
        img_size: int = 224,
        mask_ratio: float = 0.75,
        decoder_dim: int = 256,
        decoder_depth: int = 4,
        decoder_heads: int = 8,
        norm_pix_loss: bool = True,
    ) -> None:
        super().__init__()
        from timm.models.vision_transformer import Block

        spec = get_spec(backbone)
        if spec.family != "vit":
            raise ValueError(f"MAE needs a ViT backbone, got {backbone} ({spec.family})")
        self.backbone_name = backbone
        self.encoder = create_model(backbone, img_size=img_size)
        self.patch = spec.patch_size
        self.mask_ratio = mask_ratio
        self.norm_pix_loss = norm_pix_loss
        dim = self.encoder.embed_dim
        num_patches = self.encoder.patch_embed.num_patches
        self.decoder_embed = nn.Linear(dim, decoder_dim)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, decoder_dim))
        self.decoder_pos = nn.Parameter(torch.zeros(1, num_patches + 1, decoder_dim))
        self.decoder_blocks = nn.ModuleList(
            Block(decoder_dim, decoder_heads, mlp_ratio=4.0, qkv_bias=True) for _ in range(decoder_depth)
        )
        self.decoder_norm = nn.LayerNorm(decoder_dim)
        self.decoder_pred = nn.Linear(decoder_dim, self.patch * self.patch * 3)
        nn.init.normal_(self.mask_token, std=0.02)
        nn.init.trunc_normal_(self.decoder_pos, std=0.02)

    def encode(
        self,
        images: torch.Tensor,
        mask_ratio: float,
        generator: torch.Generator | None = None,
        noise: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Encoder pass over a random (1 - ``mask_ratio``) share of the patches.

        Args:
            images: (B, 3, H, W).
            generator, noise: the masking randomness, as in :func:`random_masking`.
        Returns:
            latent (B, 1 + L_keep, D) with the class token first, mask (B, L) with 1 = masked,
            restore (B, L) indices that undo the shuffle.
        """
        enc = self.encoder
        x = enc.patch_embed(images)  # (B, L, D)
        x = x + enc.pos_embed[:, 1:, :]  # timm ViTs keep a class-token slot at position 0
        x, mask, restore = random_masking(x, mask_ratio, generator, noise)
        cls = enc.cls_token + enc.pos_embed[:, :1, :]
        x = torch.cat([cls.expand(x.shape[0], -1, -1), x], dim=1)  # (B, 1 + L_keep, D)
        for block in enc.blocks:
            x = block(x)
        return enc.norm(x), mask, restore

    def decode(self, latent: torch.Tensor, restore: torch.Tensor) -> torch.Tensor:
        x = self.decoder_embed(latent)  # (B, 1 + L_keep, Dd)
        b, kept, d = x.shape
        length = restore.shape[1]
        masks = self.mask_token.expand(b, length + 1 - kept, -1)
        tokens = torch.cat([x[:, 1:, :], masks], dim=1)  # (B, L, Dd) in shuffled order
        tokens = tokens.gather(1, restore.unsqueeze(-1).expand(-1, -1, d))  # back to patch order
        x = torch.cat([x[:, :1, :], tokens], dim=1) + self.decoder_pos
        for block in self.decoder_blocks:
            x = block(x)
        return self.decoder_pred(self.decoder_norm(x))[:, 1:, :]  # (B, L, p*p*3)

    def loss(self, images: torch.Tensor, pred: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        target = patchify(images, self.patch)
        if self.norm_pix_loss:
            mean = target.mean(dim=-1, keepdim=True)
            var = target.var(dim=-1, keepdim=True)
            target = (target - mean) / (var + 1e-6) ** 0.5
        per_patch = ((pred - target) ** 2).mean(dim=-1)  # (B, L)
        return (per_patch * mask).sum() / mask.sum()  # masked patches only

    def forward(
        self,
        images: torch.Tensor,
        mask_ratio: float | None = None,
        generator: torch.Generator | None = None,
        noise: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Returns (loss, pred (B, L, p*p*3), mask (B, L))."""
        ratio = self.mask_ratio if mask_ratio is None else mask_ratio
        latent, mask, restore = self.encode(images, ratio, generator, noise)
        pred = self.decode(latent, restore)
        return self.loss(images, pred, mask), pred, mask
