"""Parameters and multiply-accumulates per second of audio of TDANet and TDANet Large at 8 and 16 kHz.

MACs are counted with PyTorch's FLOP counter (convolutions, matrix products and attention; norms and
activations not counted) on 1 s of audio, batch 1, eval mode, MACs = FLOPs / 2.

    python bench/count_tdanet_macs.py
"""
import torch
from torch.utils.flop_counter import FlopCounterMode

from tdanet import TDANet


def main() -> None:
    print(f"{'variant':<17}{'rate':>7}{'kernel':>8}{'parameters':>12}{'GMAC/s':>9}")
    for variant in ("paper", "official-release"):
        for rate in (16000, 8000):
            for kernel_ms in (4, 2):
                model = TDANet(variant, sample_rate=rate, enc_kernel_size_ms=kernel_ms).eval()
                params = sum(p.numel() for p in model.parameters())
                with torch.no_grad(), FlopCounterMode(display=False) as counter:
                    model(torch.randn(1, rate))
                print(f"{variant:<17}{rate:>7}{kernel_ms:>6}ms{params:>12,}{counter.get_total_flops() / 2e9:>9.2f}")


if __name__ == "__main__":
    main()
