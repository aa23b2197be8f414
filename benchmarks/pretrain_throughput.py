"""MAE pretraining throughput (images/s) on the current device.

    python benchmarks/pretrain_throughput.py [--models vit_small_patch16 vit_base_patch16] [--img-size 224]
        [--batch 64] [--steps 5] [--bf16] [--channels-last] [--compile]

Times forward + backward + AdamW step on random images (no data loading), after
warm-up steps, for each backbone; prints one table row per model with the device,
so CPU and GPU numbers can be compared only when measured in the same run.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import torch

from facehealth.models.mae import MaskedAutoencoder


def measure(
    name: str,
    img_size: int,
    batch: int,
    steps: int,
    device: torch.device,
    bf16: bool,
    channels_last: bool,
    compile_model: bool,
) -> float:
    torch.manual_seed(0)
    model = MaskedAutoencoder(name, img_size=img_size).to(device)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    step_model = torch.compile(model) if compile_model else model
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    x = torch.randn(batch, 3, img_size, img_size, device=device)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)

    def step() -> None:
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            loss, _, _ = step_model(x)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    for _ in range(2):  # warm-up (and compilation)
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return batch * steps / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", nargs="+", default=["vit_small_patch16", "vit_base_patch16"])
    parser.add_argument("--img-size", type=int, default=224)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--bf16", action="store_true")
    parser.add_argument("--channels-last", action="store_true")
    parser.add_argument("--compile", action="store_true")
    args = parser.parse_args()
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    where = (
        torch.cuda.get_device_name() if device.type == "cuda" else f"{platform.machine()} CPU, {os.cpu_count()} cores"
    )
    print(
        f"device: {where}; torch {torch.__version__}; batch {args.batch}; {args.img_size} px; bf16={args.bf16} "
        f"channels_last={args.channels_last} compile={args.compile}"
    )
    print("| model | images/s |\n|---|---:|")
    for name in args.models:
        ips = measure(name, args.img_size, args.batch, args.steps, device, args.bf16, args.channels_last, args.compile)
        print(f"| MAE {name} | {ips:.1f} |")


if __name__ == "__main__":
    main()
