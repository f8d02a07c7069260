"""HAT (Hybrid Attention Transformer, Chen et al. 2023), with the official module and parameter
names.

Residual hybrid attention groups, each a stack of hybrid attention blocks (window self-attention,
with every other block on shifted windows, plus a channel-attention convolution branch) followed by
one overlapping cross-attention block whose keys and values come from larger, overlapping windows.
Attention runs through `scaled_dot_product_attention` with the relative position bias (and the shift
mask) as an additive mask; masks are cached per feature-map size.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

RGB_MEAN = (0.4488, 0.4371, 0.4040)
TRAINING_PATCH_SIZE = 64  # the reference caps the window at its training patch size

# (index of the windows the shift mask touches, windows per image, their (k, n, n) mask).
ShiftMask = tuple[torch.Tensor, int, torch.Tensor]


def window_partition(x: torch.Tensor, window: int) -> torch.Tensor:
    """(b, h, w, c) -> (b * windows, window * window, c)."""
    b, h, w, c = x.shape
    x = x.view(b, h // window, window, w // window, window, c)
    return x.permute(0, 1, 3, 2, 4, 5).reshape(-1, window * window, c)


def window_reverse(windows: torch.Tensor, window: int, h: int, w: int) -> torch.Tensor:
    """(b * windows, window * window, c) -> (b, h, w, c)."""
    c = windows.shape[-1]
    x = windows.view(-1, h // window, w // window, window, window, c)
    return x.permute(0, 1, 3, 2, 4, 5).reshape(-1, h, w, c)


_WINDOW_ORDERS: dict[
    tuple[int, int, int, int, torch.device], tuple[torch.Tensor, torch.Tensor]
] = {}


def window_order(
    h: int, w: int, window: int, shift: int, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor]:
    """Token indices of the shifted windows in window_partition order, and the inverse
    permutation."""
    key = (h, w, window, shift, device)
    if key not in _WINDOW_ORDERS:
        if len(_WINDOW_ORDERS) > 16:
            _WINDOW_ORDERS.clear()
        tokens = torch.roll(
            torch.arange(h * w).view(1, h, w, 1), shifts=(-shift, -shift), dims=(1, 2)
        )
        order = window_partition(tokens, window).flatten()
        _WINDOW_ORDERS[key] = (order.to(device), torch.argsort(order).to(device))
    return _WINDOW_ORDERS[key]


def _grid(n: int) -> torch.Tensor:
    """(2, n * n) row and column of every position of an n x n window, row-major."""
    return torch.stack(torch.meshgrid(torch.arange(n), torch.arange(n), indexing="ij")).flatten(1)


def relative_position_index_self(window: int) -> torch.Tensor:
    """Index into the (2w-1)^2 bias table for every (query, key) pair of one window."""
    coords = _grid(window)
    relative = (coords[:, :, None] - coords[:, None, :]).permute(1, 2, 0) + (window - 1)
    return relative[:, :, 0] * (2 * window - 1) + relative[:, :, 1]


def relative_position_index_overlap(window: int, overlap_window: int) -> torch.Tensor:
    """Index into the (w + ow - 1)^2 bias table for queries of a window and keys of its overlapping
    window."""
    relative = (_grid(overlap_window)[:, None, :] - _grid(window)[:, :, None]).permute(1, 2, 0)
    relative = relative + (window - overlap_window + 1)
    return relative[:, :, 0] * (window + overlap_window - 1) + relative[:, :, 1]


def position_bias(table: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """(1, heads, queries, keys) bias from a (entries, heads) table, gathered head-major in one pass
    (gathering rows and then permuting heads to the front copies the (queries * keys, heads) result
    twice)."""
    flat = index.reshape(-1).remainder(
        table.shape[0]
    )  # negative indices count from the end, as in table[index]
    return table.t().contiguous().index_select(1, flat).view(1, table.shape[1], *index.shape)


def shifted_window_mask(h: int, w: int, window: int, shift: int) -> torch.Tensor:
    """(windows, n, n) additive mask that stops shifted windows attending across the image's
    wrap-around."""
    region = torch.zeros(1, h, w, 1)
    label = 0
    bounds = (slice(0, -window), slice(-window, -shift), slice(-shift, None))
    for rows in bounds:
        for cols in bounds:
            region[:, rows, cols, :] = label
            label += 1
    windows = window_partition(region, window).squeeze(-1)
    different = windows.unsqueeze(1) != windows.unsqueeze(2)
    return torch.zeros(different.shape).masked_fill(different, -100.0)


def reflect_indices(size: int, padded: int) -> torch.Tensor:
    """Indices that extend `size` samples to `padded` by mirror reflection, repeating it for tiny
    inputs."""
    if size == 1:
        return torch.zeros(padded, dtype=torch.long)
    period = 2 * (size - 1)
    index = torch.arange(padded) % period
    return torch.where(index >= size, period - index, index)


def linear(layer: nn.Linear, x: torch.Tensor, gelu: bool = False) -> torch.Tensor:
    """`layer(x)`, optionally followed by GELU; in bfloat16 on the CPU as one oneDNN call.

    PyTorch's bfloat16 addmm first copies the broadcast bias into its output and runs GELU as a
    separate pass; oneDNN's fused linear (the kernel torch.compile itself emits, no compiler needed)
    is 1.6x faster. Under torch.compile the plain layer is traced: inductor cannot lower the op with
    an unpacked weight and emits the same fused kernel itself.
    """
    if (
        x.dtype == torch.bfloat16
        and x.device.type == "cpu"
        and _FUSED_LINEAR is not None
        and not torch.is_grad_enabled()
        and not torch.compiler.is_compiling()
    ):
        return _FUSED_LINEAR(
            x, layer.weight, layer.bias, "gelu" if gelu else "none", [], "none" if gelu else ""
        )
    y: torch.Tensor = layer(x)
    return F.gelu(y) if gelu else y


def _fused_linear() -> Callable[..., torch.Tensor] | None:
    try:
        op = torch.ops.mkldnn._linear_pointwise
        # torch.backends.mkldnn.is_available has no annotations in torch's own sources.
        if not torch.backends.mkldnn.is_available():  # type: ignore[no-untyped-call]
            return None
        probe = torch.ones(2, 4, 4, dtype=torch.bfloat16)
        weight = torch.ones(3, 4, dtype=torch.bfloat16)
        ok = torch.equal(
            op(probe, weight, torch.ones(3, dtype=torch.bfloat16), "none", [], ""),
            torch.full((2, 4, 3), 5.0, dtype=torch.bfloat16),
        )
        return op if ok else None
    except (AttributeError, RuntimeError):
        return None


_FUSED_LINEAR = _fused_linear()


class Mlp(nn.Module):
    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return linear(self.fc2, linear(self.fc1, x, gelu=True))


class ChannelAttention(nn.Module):
    def __init__(self, channels: int, squeeze_factor: int):
        super().__init__()
        self.attention = nn.Sequential(
            nn.AdaptiveAvgPool2d(1),
            nn.Conv2d(channels, channels // squeeze_factor, 1),
            nn.ReLU(inplace=True),
            nn.Conv2d(channels // squeeze_factor, channels, 1),
            nn.Sigmoid(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weights: torch.Tensor = self.attention(x)
        return x * weights


class CAB(nn.Module):
    def __init__(self, channels: int, compress_ratio: int, squeeze_factor: int):
        super().__init__()
        self.cab = nn.Sequential(
            nn.Conv2d(channels, channels // compress_ratio, 3, 1, 1),
            nn.GELU(),
            nn.Conv2d(channels // compress_ratio, channels, 3, 1, 1),
            ChannelAttention(channels, squeeze_factor),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.cab(x)
        return out


# On a GPU, PyTorch's fused attention kernels need a head size that is a multiple of 8. HAT's 180
# channels in 6 heads give 30, and the fallback writes out every (window, head) attention matrix.
# Zero columns appended to q and k add nothing to the dot products, those of v give zero outputs
# that are cut off, and the scale stays 1/sqrt(30): the same attention through the fused kernel.
# The CPU's flash kernel in bf16 is also 1.12-1.15x faster on 32-wide heads than on 30-wide ones
# (HAT x4: 4% overall, the same output bytes; benchmarks/RESULTS.md). A switch for
# benchmarks/bench_gpu_variants.py.
PAD_HEADS_ON_GPU = True


def attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, bias: torch.Tensor, pad: bool | None = None
) -> torch.Tensor:
    """scaled_dot_product_attention, with the head size padded to a multiple of 8 on a GPU and for
    bf16 on the CPU (or when `pad`)."""
    head_dim = q.shape[-1]
    if pad is None:
        pad = PAD_HEADS_ON_GPU and (q.device.type == "cuda" or q.dtype == torch.bfloat16)
    if not pad or head_dim % 8 == 0:
        return F.scaled_dot_product_attention(q, k, v, attn_mask=bias)
    extra = (0, -head_dim % 8)
    out = F.scaled_dot_product_attention(
        F.pad(q, extra), F.pad(k, extra), F.pad(v, extra), attn_mask=bias, scale=head_dim**-0.5
    )
    return out[..., :head_dim]


class WindowAttention(nn.Module):
    def __init__(self, dim: int, window: int, num_heads: int, qkv_bias: bool):
        super().__init__()
        self.window = window
        self.num_heads = num_heads
        self.relative_position_bias_table = nn.Parameter(
            torch.zeros((2 * window - 1) ** 2, num_heads)
        )
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor, rpi: torch.Tensor, mask: ShiftMask | None) -> torch.Tensor:
        """x: (b * windows, n, c); mask: None, or (index, windows, mask) of the masked windows of
        one image."""
        batch_windows, n, c = x.shape
        qkv = (
            linear(self.qkv, x)
            .view(batch_windows, n, 3, self.num_heads, c // self.num_heads)
            .permute(2, 0, 3, 1, 4)
        )
        q, k, v = qkv.unbind(0)
        # A 4-D mask keeps SDPA on its fused CPU kernel; a 3-D or 5-D one falls back to the slow
        # math path.
        bias = position_bias(self.relative_position_bias_table, rpi).to(q.dtype)
        out = attention(q, k, v, bias)
        if mask is not None:
            # Only the last row and column of shifted windows hold wrapped-around pixels. Attending
            # over all windows with the bias alone and redoing just those with bias + mask gives the
            # same result without a (windows, heads, n, n) mask: 400 MB per block for a 256 px tile
            # in float32.
            index, windows, edge_mask = mask
            images = batch_windows // windows
            if images > 1:
                index = (
                    index[None] + windows * torch.arange(images, device=index.device)[:, None]
                ).flatten()
                edge_mask = edge_mask.repeat(images, 1, 1)
            edge_bias = bias + edge_mask.unsqueeze(1).to(q.dtype)
            out[index] = attention(q[index], k[index], v[index], edge_bias)
        out = (
            out.reshape(batch_windows, self.num_heads, n, -1)
            .transpose(1, 2)
            .reshape(batch_windows, n, c)
        )
        return linear(self.proj, out)


class HAB(nn.Module):
    """Hybrid attention block: (shifted) window attention plus a scaled channel-attention conv
    branch."""

    def __init__(
        self,
        dim: int,
        num_heads: int,
        window: int,
        shift: int,
        compress_ratio: int,
        squeeze_factor: int,
        mlp_ratio: float,
        qkv_bias: bool,
        conv_scale: float = 0.01,
    ) -> None:
        super().__init__()
        self.window = window
        self.shift = shift
        self.conv_scale = conv_scale
        self.norm1 = nn.LayerNorm(dim)
        self.attn = WindowAttention(dim, window, num_heads, qkv_bias)
        self.conv_block = CAB(dim, compress_ratio, squeeze_factor)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))

    def forward(
        self,
        x: torch.Tensor,
        size: tuple[int, int],
        rpi: torch.Tensor,
        mask: ShiftMask | None,
    ) -> torch.Tensor:
        h, w = size
        b, _, c = x.shape
        shortcut = x
        x = self.norm1(x).to(self.attn.qkv.weight.dtype).view(b, h, w, c)
        conv_x: torch.Tensor = (
            self.conv_block(x.permute(0, 3, 1, 2)).permute(0, 2, 3, 1).reshape(b, h * w, c)
        )
        if self.shift:
            # Roll and window partition (and back) as one row gather each, the same values:
            # torch.roll over two dimensions alone took 6x as long as the partition's permuted copy
            # (256 px, AVX2 CPU).
            order, inverse = window_order(h, w, self.window, self.shift, x.device)
            windows = x.reshape(b, h * w, c).index_select(1, order).view(-1, self.window**2, c)
            attn: torch.Tensor = (
                self.attn(windows, rpi, mask).view(b, h * w, c).index_select(1, inverse)
            )
        else:
            attn = window_reverse(
                self.attn(window_partition(x, self.window), rpi, None), self.window, h, w
            )
        x = shortcut + attn.reshape(b, h * w, c)
        x.add_(conv_x, alpha=self.conv_scale)
        mlp: torch.Tensor = self.mlp(self.norm2(x).to(self.mlp.fc1.weight.dtype))
        return x + mlp


class OCAB(nn.Module):
    """Overlapping cross-attention: queries from a window, keys/values from a larger window around
    it."""

    def __init__(
        self,
        dim: int,
        window: int,
        overlap_ratio: float,
        num_heads: int,
        qkv_bias: bool,
        mlp_ratio: float,
    ) -> None:
        super().__init__()
        self.dim = dim
        self.window = window
        self.num_heads = num_heads
        self.overlap_window = int(window * overlap_ratio) + window
        self.norm1 = nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.unfold = nn.Unfold(
            kernel_size=self.overlap_window,
            stride=window,
            padding=(self.overlap_window - window) // 2,
        )
        self.relative_position_bias_table = nn.Parameter(
            torch.zeros((window + self.overlap_window - 1) ** 2, num_heads)
        )
        self.proj = nn.Linear(dim, dim)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))

    def forward(self, x: torch.Tensor, size: tuple[int, int], rpi: torch.Tensor) -> torch.Tensor:
        h, w = size
        b, _, c = x.shape
        heads, head_dim = self.num_heads, c // self.num_heads
        ow2, w2 = self.overlap_window**2, self.window**2
        shortcut = x
        qkv = linear(self.qkv, self.norm1(x).to(self.qkv.weight.dtype)).view(b, h, w, 3, c)
        q = window_partition(qkv[..., 0, :], self.window)  # (b * nw, w2, c)
        # Keys and values of the overlapping windows (what nn.Unfold with zero padding gives),
        # gathered straight from the channels-last tokens: a zero-padded copy, then one copy into
        # the layout the fused attention kernel needs (head dimension innermost), instead of NCHW +
        # im2col + permute.
        pad = (self.overlap_window - self.window) // 2
        padded = qkv.new_zeros(b, h + 2 * pad, w + 2 * pad, 2, c)
        padded[:, pad : pad + h, pad : pad + w] = qkv[..., 1:, :]
        kv = padded.unfold(1, self.overlap_window, self.window).unfold(
            2, self.overlap_window, self.window
        )
        windows = kv.shape[1] * kv.shape[2]  # kv: (b, rows, cols, 2, c, ky, kx)
        kv = torch.unflatten(kv, 4, (heads, head_dim)).permute(3, 0, 1, 2, 4, 6, 7, 5)
        k, v = kv.reshape(2, b * windows, heads, ow2, head_dim).unbind(0)
        q = q.view(b * windows, w2, heads, head_dim).transpose(1, 2)
        bias = position_bias(self.relative_position_bias_table, rpi)
        out = attention(q, k, v, bias.to(q.dtype))
        out = out.transpose(1, 2).reshape(b * windows, w2, c)
        x = (
            linear(self.proj, window_reverse(out, self.window, h, w).reshape(b, h * w, c))
            + shortcut
        )
        mlp: torch.Tensor = self.mlp(self.norm2(x).to(self.mlp.fc1.weight.dtype))
        return x + mlp


class AttenBlocks(nn.Module):
    def __init__(
        self,
        dim: int,
        depth: int,
        num_heads: int,
        window: int,
        compress_ratio: int,
        squeeze_factor: int,
        overlap_ratio: float,
        mlp_ratio: float,
        qkv_bias: bool,
    ) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(
            HAB(
                dim,
                num_heads,
                window,
                0 if i % 2 == 0 else window // 2,
                compress_ratio,
                squeeze_factor,
                mlp_ratio,
                qkv_bias,
            )
            for i in range(depth)
        )
        self.overlap_attn = OCAB(dim, window, overlap_ratio, num_heads, qkv_bias, mlp_ratio)

    def forward(
        self,
        x: torch.Tensor,
        size: tuple[int, int],
        rpi_sa: torch.Tensor,
        rpi_oca: torch.Tensor,
        mask: ShiftMask | None,
    ) -> torch.Tensor:
        for block in self.blocks:
            x = block(x, size, rpi_sa, mask)
        out: torch.Tensor = self.overlap_attn(x, size, rpi_oca)
        return out


class RHAG(nn.Module):
    """Residual hybrid attention group: attention blocks, a 3x3 conv, and a skip connection."""

    def __init__(
        self,
        dim: int,
        *,
        depth: int,
        num_heads: int,
        window: int,
        compress_ratio: int,
        squeeze_factor: int,
        overlap_ratio: float,
        mlp_ratio: float,
        qkv_bias: bool,
    ) -> None:
        super().__init__()
        self.residual_group = AttenBlocks(
            dim,
            depth=depth,
            num_heads=num_heads,
            window=window,
            compress_ratio=compress_ratio,
            squeeze_factor=squeeze_factor,
            overlap_ratio=overlap_ratio,
            mlp_ratio=mlp_ratio,
            qkv_bias=qkv_bias,
        )
        self.conv = nn.Conv2d(dim, dim, 3, 1, 1)

    def forward(
        self,
        x: torch.Tensor,
        size: tuple[int, int],
        rpi_sa: torch.Tensor,
        rpi_oca: torch.Tensor,
        mask: ShiftMask | None,
    ) -> torch.Tensor:
        b, _, c = x.shape
        y: torch.Tensor = self.residual_group(x, size, rpi_sa, rpi_oca, mask)
        y = self.conv(y.transpose(1, 2).reshape(b, c, *size).to(self.conv.weight.dtype))
        return y.flatten(2).transpose(1, 2) + x


class PatchEmbed(nn.Module):
    def __init__(self, dim: int, norm: bool):
        super().__init__()
        self.norm = nn.LayerNorm(dim) if norm else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.flatten(2).transpose(1, 2)
        if self.norm is None:
            return x
        normed: torch.Tensor = self.norm(x)
        return normed


class HAT(nn.Module):
    # Buffers registered by name in __init__: declared here for the type checker.
    mean: torch.Tensor
    relative_position_index_SA: torch.Tensor
    relative_position_index_OCA: torch.Tensor

    def __init__(
        self,
        embed_dim: int = 180,
        depths: Sequence[int] = (6, 6, 6, 6, 6, 6),
        num_heads: Sequence[int] = (6, 6, 6, 6, 6, 6),
        window_size: int = 16,
        compress_ratio: int = 3,
        squeeze_factor: int = 30,
        mlp_ratio: float = 2.0,
        upscale: int = 4,
        overlap_ratio: float = 0.5,
        qkv_bias: bool = True,
        patch_norm: bool = True,
        num_feat: int = 64,
        img_range: float = 1.0,
    ) -> None:
        super().__init__()
        if upscale not in (1, 2, 3, 4, 8):
            raise ValueError(f"HAT supports scales 1, 2, 3, 4 and 8, not {upscale}")
        window = min(window_size, TRAINING_PATCH_SIZE)
        self.window_size = window
        self.shift_size = window // 2 if window_size < TRAINING_PATCH_SIZE else 0
        self.upscale = upscale
        self.img_range = img_range
        self.register_buffer("mean", torch.tensor(RGB_MEAN).view(1, 3, 1, 1), persistent=False)
        overlap_window = int(window * overlap_ratio) + window
        self.register_buffer("relative_position_index_SA", relative_position_index_self(window))
        self.register_buffer(
            "relative_position_index_OCA", relative_position_index_overlap(window, overlap_window)
        )
        self._mask_cache: dict[tuple[int, int, torch.device], ShiftMask] = {}

        self.conv_first = nn.Conv2d(3, embed_dim, 3, 1, 1)
        self.patch_embed = PatchEmbed(embed_dim, patch_norm)
        self.layers = nn.ModuleList(
            RHAG(
                embed_dim,
                depth=depth,
                num_heads=heads,
                window=window,
                compress_ratio=compress_ratio,
                squeeze_factor=squeeze_factor,
                overlap_ratio=overlap_ratio,
                mlp_ratio=mlp_ratio,
                qkv_bias=qkv_bias,
            )
            for depth, heads in zip(depths, num_heads, strict=True)
        )
        if self.shift_size == 0:
            for block in self.layers.modules():
                if isinstance(block, HAB):
                    block.shift = 0
        self.norm = nn.LayerNorm(embed_dim)
        self.conv_after_body = nn.Conv2d(embed_dim, embed_dim, 3, 1, 1)
        self.conv_before_upsample = nn.Sequential(
            nn.Conv2d(embed_dim, num_feat, 3, 1, 1), nn.LeakyReLU(inplace=True)
        )
        upsample: list[nn.Module] = []
        if upscale == 3:
            upsample += [nn.Conv2d(num_feat, 9 * num_feat, 3, 1, 1), nn.PixelShuffle(3)]
        else:
            for _ in range(int(math.log2(upscale))):
                upsample += [nn.Conv2d(num_feat, 4 * num_feat, 3, 1, 1), nn.PixelShuffle(2)]
        self.upsample = nn.Sequential(*upsample)
        self.conv_last = nn.Conv2d(num_feat, 3, 3, 1, 1)
        # oneDNN returns a channels-last result only when the weight is channels-last too; otherwise
        # every convolution after the first reorders its output back to NCHW (a full copy, 20% of a
        # bf16 run).
        # Module.to's stubs omit the memory_format keyword that it accepts.
        self.to(memory_format=torch.channels_last)  # type: ignore[call-overload]

    def cast_for_inference(self, dtype: torch.dtype) -> HAT:
        """Run the body's linears and convolutions in `dtype` (bf16), everything else in float32.

        Cast whole, HAT in bfloat16 misses 1e-2 relative RMS against float32 (1.17e-2 on the parity
        fixtures): the residual stream is rounded to 8 bits after every block, and the shallow
        features that skip the whole body carry the image itself. Kept in float32 (residual sums,
        LayerNorms, conv_first and everything from conv_after_body on, about 5% of the FLOPs) the
        error is half that."""
        self.float()
        if dtype != torch.float32:
            for module in self.layers.modules():
                if isinstance(module, (nn.Linear, nn.Conv2d)):
                    module.to(dtype)
        return self

    def shift_mask(self, h: int, w: int, device: torch.device) -> ShiftMask | None:
        """(index of the windows the shift mask touches, windows per image, their (k, n, n)
        mask)."""
        if not self.shift_size:
            return None
        key = (h, w, device)
        cached = self._mask_cache.get(key)
        if cached is not None:
            return cached
        if len(self._mask_cache) > 8:
            self._mask_cache.clear()
        full = shifted_window_mask(h, w, self.window_size, self.shift_size)
        index = full.flatten(1).ne(0).any(1).nonzero().squeeze(1)
        mask = (index.to(device), full.shape[0], full[index].to(device))
        self._mask_cache[key] = mask
        return mask

    def pad_to_window(self, x: torch.Tensor) -> torch.Tensor:
        """Mirror-pad bottom and right to a multiple of the window, as the reference does before
        inference."""
        h, w = x.shape[-2:]
        padded_h = math.ceil(h / self.window_size) * self.window_size
        padded_w = math.ceil(w / self.window_size) * self.window_size
        if padded_h != h:
            x = x.index_select(-2, reflect_indices(h, padded_h).to(x.device))
        if padded_w != w:
            x = x.index_select(-1, reflect_indices(w, padded_w).to(x.device))
        return x

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        mask = self.shift_mask(h, w, x.device)
        x = self.patch_embed(x)
        for layer in self.layers:
            x = layer(
                x, (h, w), self.relative_position_index_SA, self.relative_position_index_OCA, mask
            )
        normed: torch.Tensor = self.norm(x)
        return normed.transpose(1, 2).reshape(b, c, h, w)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        x = self.pad_to_window(x.to(self.conv_first.weight.dtype))
        mean = self.mean.to(x.dtype)
        # Channels-last all the way: oneDNN's convolutions run 1.5x (float32) to 3.5x (bfloat16)
        # faster on it than on NCHW, and the token layout (b, h*w, c) of the transformer body is
        # channels-last already.
        x = ((x - mean) * self.img_range).contiguous(memory_format=torch.channels_last)
        x = self.conv_first(x)
        body: torch.Tensor = self.conv_after_body(self.forward_features(x))
        x = body + x
        x = self.conv_last(self.upsample(self.conv_before_upsample(x)))
        x = x / self.img_range + mean
        return x[..., : h * self.upscale, : w * self.upscale].contiguous()
