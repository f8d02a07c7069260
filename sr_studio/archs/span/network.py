"""SPAN (Swift Parameter-free Attention Network, Wan et al. 2024), with the official module names.

Every 3x3 convolution of SPAN is trained as a `Conv3XC` (a 1x1 -> 3x3 -> 1x1 chain plus a 1x1 skip)
and run as one fused 3x3 `eval_conv`. Checkpoints saved during training carry stale `eval_conv`
tensors, so the fused kernels are rebuilt from `sk` and `conv.*` by `fuse()`, once, after the
weights are loaded.

Re-fused exports (efficient-SR model zoos, converted files) keep only the `eval_conv` kernels: for
them the network is built with `fused_only=True`, whose convolutions have no chain, so its state
dict is exactly such a file's keys and `fuse()` has nothing to rebuild (the stored kernels are the
trained ones).
"""

from __future__ import annotations

from typing import cast

import torch
import torch.nn.functional as F
from torch import nn

RGB_MEAN = (0.4488, 0.4371, 0.4040)


def _bias(conv: nn.Conv2d) -> torch.Tensor:
    """The bias of a convolution built with one (every convolution of SPAN is)."""
    if conv.bias is None:
        raise ValueError("SPAN convolution built without a bias")
    return conv.bias


class Conv3XC(nn.Module):
    def __init__(self, c_in: int, c_out: int, gain: int = 2):
        super().__init__()
        self.sk = nn.Conv2d(c_in, c_out, kernel_size=1)
        self.conv = nn.Sequential(
            nn.Conv2d(c_in, c_in * gain, kernel_size=1),
            nn.Conv2d(c_in * gain, c_out * gain, kernel_size=3),
            nn.Conv2d(c_out * gain, c_out, kernel_size=1),
        )
        self.eval_conv = nn.Conv2d(c_in, c_out, kernel_size=3, padding=1)
        self.eval_conv.weight.requires_grad_(False)
        _bias(self.eval_conv).requires_grad_(False)

    @torch.no_grad()
    def fuse(self) -> None:
        """Collapse 1x1 -> 3x3 -> 1x1 (+ 1x1 skip) into the single 3x3 `eval_conv`.

        Exact: it is linear algebra.
        """
        first, middle, last = cast("list[nn.Conv2d]", list(self.conv))
        w1 = first.weight[:, :, 0, 0].double()  # (m1, in)
        w3 = last.weight[:, :, 0, 0].double()  # (out, m2)
        w2 = middle.weight.double()  # (m2, m1, 3, 3)
        weight = torch.einsum("om,mnyx,ni->oiyx", w3, w2, w1)
        bias_mid = torch.einsum("mnyx,n->m", w2, _bias(first).double()) + _bias(middle).double()
        bias = w3 @ bias_mid + _bias(last).double()
        weight[:, :, 1, 1] += self.sk.weight[:, :, 0, 0].double()
        bias = bias + _bias(self.sk).double()
        self.eval_conv.weight.copy_(weight.to(self.eval_conv.weight.dtype))
        eval_bias = _bias(self.eval_conv)
        eval_bias.copy_(bias.to(eval_bias.dtype))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training:
            # The unfused chain, for training: zero padding before the 1x1 conv as in the reference.
            chain: torch.Tensor = self.conv(F.pad(x, (1, 1, 1, 1))) + self.sk(x)
            return chain
        fused: torch.Tensor = self.eval_conv(x)
        return fused


class FusedConv3XC(nn.Module):
    """A Conv3XC as re-fused checkpoints store it: the 3x3 `eval_conv` alone, nothing to rebuild
    from.

    Keeps the `eval_conv` name so that the keys are those of the official layout minus the chain.
    Its kernel is the trained weight itself, so unlike Conv3XC's it trains too.
    """

    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.eval_conv = nn.Conv2d(c_in, c_out, kernel_size=3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.eval_conv(x)
        return out


class SPAB(nn.Module):
    """Parameter-free attention block: features are gated by sigmoid(features) - 0.5."""

    def __init__(self, channels: int, conv: type[nn.Module] = Conv3XC):
        super().__init__()
        self.c1_r = conv(channels, channels)
        self.c2_r = conv(channels, channels)
        self.c3_r = conv(channels, channels)

    def forward(
        self, x: torch.Tensor, keep_first: bool = True
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(block output, first activation); keep_first=False returns None instead and frees it
        early.

        SPAN uses the first activation of its last block only; dropping the others as soon as they
        are read, like out2, keeps the block's peak at five activations instead of seven (a CPU
        tile's memory).
        """
        # The reference applies SiLU in place, so the first conv's output it hands back is
        # activated.
        inference = not (self.training or torch.is_grad_enabled())
        out1: torch.Tensor | None = F.silu(self.c1_r(x), inplace=inference)
        out2 = F.silu(self.c2_r(out1), inplace=inference)
        if not keep_first:
            out1 = None
        out3 = self.c3_r(out2)
        del out2
        if not inference:
            return (out3 + x) * (torch.sigmoid(out3) - 0.5), out1
        # In place at inference: half the allocations of this memory-bound tail, bit-identical
        # result.
        return torch.sigmoid(out3).sub_(0.5).mul_(out3.add_(x)), out1


class SPAN(nn.Module):
    # Registered by name in __init__ (buffers and numbered blocks): declared here for the type
    # checker.
    mean: torch.Tensor
    block_1: SPAB
    block_2: SPAB
    block_3: SPAB
    block_4: SPAB
    block_5: SPAB
    block_6: SPAB

    def __init__(
        self,
        feature_channels: int = 48,
        upscale: int = 4,
        norm: bool = True,
        img_range: float = 255.0,
        fused_only: bool = False,
    ):
        super().__init__()
        self.img_range = img_range
        self.register_buffer("mean", torch.tensor(RGB_MEAN).view(1, 3, 1, 1), persistent=False)
        if not norm:
            # Community checkpoints mark the variant without input normalisation with this entry.
            self.register_buffer("no_norm", torch.zeros(1))
        self.norm = norm
        self.fused_only = fused_only
        conv = FusedConv3XC if fused_only else Conv3XC
        self.conv_1 = conv(3, feature_channels)
        for index in range(1, 7):
            self.add_module(f"block_{index}", SPAB(feature_channels, conv))
        self.conv_cat = nn.Conv2d(feature_channels * 4, feature_channels, kernel_size=1)
        self.conv_2 = conv(feature_channels, feature_channels)
        self.upsampler = nn.Sequential(
            nn.Conv2d(feature_channels, 3 * upscale * upscale, kernel_size=3, padding=1),
            nn.PixelShuffle(upscale),
        )

    def fuse(self) -> None:
        """Rebuild every `eval_conv` from its chain.

        A fused-only network has no chain, so it keeps its own.
        """
        for module in self.modules():
            if isinstance(module, Conv3XC):
                module.fuse()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.norm:
            x = (x - self.mean.to(x.dtype)) * self.img_range
        # oneDNN's convolutions are markedly faster on channels-last activations (see
        # benchmarks/RESULTS.md).
        x = x.contiguous(memory_format=torch.channels_last)
        features = self.conv_1(x)
        out = features
        out, _ = self.block_1(out, keep_first=False)
        out_b1 = out
        out, _ = self.block_2(out, keep_first=False)
        out, _ = self.block_3(out, keep_first=False)
        out, _ = self.block_4(out, keep_first=False)
        out, _ = self.block_5(out, keep_first=False)
        out, out_b5_2 = self.block_6(out)
        out = self.conv_2(out)
        parts = [features, out, out_b1, out_b5_2]
        del (
            features,
            out,
            out_b1,
            out_b5_2,
        )  # freed as soon as conv_cat has read them (a tile's peak memory)
        if (
            self.training
            or torch.is_grad_enabled()
            or x.device.type != "cpu"
            or x.dtype != torch.float32
        ):
            out = self.conv_cat(torch.cat(parts, dim=1))
        else:
            out = self._conv_cat_of_parts(parts)
        upscaled: torch.Tensor = self.upsampler(out)
        return upscaled.contiguous()

    def _conv_cat_of_parts(self, parts: list[torch.Tensor]) -> torch.Tensor:
        """conv_cat(cat(parts)) without the concatenation (CPU, float32 inference); empties `parts`.

        A 1x1 conv over the four 48-channel parts is a sum of one matrix product per part,
        accumulated in place: the 4x48-channel copy (768 B per input pixel, the largest tensor of
        the pass) is never made and the pass peaks at 1.35 instead of 1.73 KB per input pixel; the
        four products also beat the copy plus one conv (432 px patch, 1 thread: 93 vs 202 ms).
        Channels-last activations are (pixels, channels) matrices, so the inputs are views. Not
        measured in bf16 (it would round four times) nor on GPUs, which keep the conv.
        """
        n, c, h, w = parts[0].shape
        weight = self.conv_cat.weight.view(self.conv_cat.out_channels, -1)
        bias = _bias(self.conv_cat)
        out: torch.Tensor | None = None
        for index in range(len(parts)):
            # Popped, so that the list no longer holds the part once its product is taken.
            rows = parts.pop(0).permute(0, 2, 3, 1).reshape(n * h * w, c)
            part_weight = weight[:, index * c : (index + 1) * c].t()
            out = (
                torch.addmm(bias, rows, part_weight)
                if out is None
                else out.addmm_(rows, part_weight)
            )
            del rows
        if out is None:
            raise ValueError("conv_cat of no parts")
        return out.view(n, h, w, -1).permute(0, 3, 1, 2)
