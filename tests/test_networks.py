"""Behaviour of the networks on inputs the fixtures do not cover: any size, custom
hyperparameters."""

import pytest
import torch

from sr_studio.archs.hat import HAT
from sr_studio.archs.span import SPAN
from sr_studio.model_loading import model_from_state_dict


def small_hat(**overrides):
    options = dict(
        embed_dim=16,
        depths=(2,),
        num_heads=(2,),
        window_size=4,
        compress_ratio=2,
        squeeze_factor=4,
        mlp_ratio=2.0,
        upscale=2,
    )
    options.update(overrides)
    torch.manual_seed(0)
    model = HAT(**options)
    for parameter in model.parameters():  # random, non-trivial weights everywhere
        parameter.data.normal_(0, 0.2)
    return model


@pytest.mark.parametrize("height,width", [(1, 1), (1, 7), (5, 1), (3, 9), (13, 8)])
def test_hat_any_size_gives_scaled_output(height, width):
    model = model_from_state_dict(small_hat().state_dict())
    with torch.no_grad():
        out = model(torch.rand(1, 3, height, width))
    assert out.shape == (1, 3, 2 * height, 2 * width)
    assert torch.isfinite(out).all()


def test_hat_mirror_padding_matches_explicit_reflection():
    """Inside the reference's range (pad < size) our padding equals torch's reflect padding."""
    model = model_from_state_dict(small_hat().state_dict())
    x = torch.rand(1, 3, 10, 11)
    padded = torch.nn.functional.pad(x, (0, 1, 0, 2), mode="reflect")
    with torch.no_grad():
        ours = model(x)
        reference = model(padded)[..., :20, :22]
    torch.testing.assert_close(ours, reference, rtol=0, atol=1e-5)


@pytest.mark.parametrize(
    "overrides",
    [
        dict(overlap_ratio=0.25, window_size=8),
        dict(mlp_ratio=4.0),
        dict(upscale=3),
        dict(upscale=4, depths=(2, 1), num_heads=(2, 4)),
        dict(upscale=8),
        dict(qkv_bias=False),
        dict(window_size=8, compress_ratio=4, squeeze_factor=16),
    ],
)
def test_hat_custom_hyperparameters_round_trip(overrides):
    original = small_hat(**overrides)
    loaded = model_from_state_dict(original.state_dict())
    for key, value in overrides.items():
        expected = list(value) if isinstance(value, tuple) else value
        assert loaded.descriptor.hyperparameters[key] == expected
    x = torch.rand(1, 3, 9, 6)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), original.eval()(x))


@pytest.mark.parametrize(
    "channels,scale,norm", [(8, 1, True), (16, 3, True), (24, 2, False), (48, 4, True)]
)
def test_span_any_width_scale_and_variant(channels, scale, norm):
    torch.manual_seed(1)
    trained = SPAN(feature_channels=channels, upscale=scale, norm=norm)
    loaded = model_from_state_dict(trained.state_dict())
    expected = {"feature_channels": channels, "upscale": scale, **({} if norm else {"norm": False})}
    assert loaded.descriptor.hyperparameters == expected
    x = torch.rand(1, 3, 7, 5)
    trained.train()
    with torch.no_grad():
        unfused = trained(x)  # the training-time graph, never fused
        fused = loaded(x)
    assert fused.shape == (1, 3, 7 * scale, 5 * scale)
    torch.testing.assert_close(fused, unfused, rtol=1e-4, atol=1e-4 * unfused.abs().max().item())


def test_span_inference_on_the_cpu_makes_no_tensor_wider_than_its_output_layer():
    """The 4 x 48-channel concatenation (the largest tensor of a pass, 768 B per pixel) is never
    made: a tile's peak memory is what bounds the tile size on the CPU."""
    from torch.utils._python_dispatch import TorchDispatchMode

    class LargestOutput(TorchDispatchMode):
        largest = 0

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            result = func(*args, **(kwargs or {}))
            for tensor in result if isinstance(result, (tuple, list)) else (result,):
                if isinstance(tensor, torch.Tensor):
                    self.largest = max(self.largest, tensor.numel())
            return result

    torch.manual_seed(2)
    model = model_from_state_dict(SPAN(feature_channels=48, upscale=4).state_dict()).network
    x = torch.rand(1, 3, 20, 24)
    with torch.inference_mode(), LargestOutput() as watch:
        out = model(x)
    assert watch.largest <= 48 * 20 * 24  # one activation (the x4 output has the same size)
    model.train()  # the training graph: unfused convolutions, the concatenation and the 1x1 conv
    with torch.no_grad():
        trained = model(x)
    torch.testing.assert_close(out, trained, rtol=1e-4, atol=1e-4 * trained.abs().max().item())


@pytest.mark.parametrize(
    "keys", [256, 576]
)  # window attention, and the overlapping cross-attention
def test_hat_attention_with_heads_padded_for_the_gpu_kernels_is_the_same_attention(keys):
    """HAT's 30-wide heads are zero-padded to 32 on a GPU so that the fused kernels take them (2.2x
    faster in bf16 on an H200); the padding must not change a value. Checked here on the CPU, where
    both paths run."""
    from sr_studio.archs.hat.network import attention

    torch.manual_seed(0)
    q = torch.randn(4, 6, 256, 30)
    k, v = torch.randn(2, 4, 6, keys, 30).unbind(0)
    bias = torch.randn(6, 256, keys)
    padded, plain = attention(q, k, v, bias, pad=True), attention(q, k, v, bias, pad=False)
    assert padded.shape == plain.shape == (4, 6, 256, 30)
    torch.testing.assert_close(padded, plain, rtol=1e-5, atol=1e-6)


def test_hat_attention_pads_bf16_heads_on_the_cpu_and_leaves_fp32_as_it_was(monkeypatch):
    """bf16 on the CPU takes the padded path (its flash kernel is faster on 32-wide heads), with
    the same values as the unpadded one; fp32 keeps the unpadded path: no CPU without bf16
    changes."""
    from sr_studio.archs.hat import network

    widths = []
    kernel = network.F.scaled_dot_product_attention

    def watched(q, *args, **kwargs):
        widths.append(q.shape[-1])
        return kernel(q, *args, **kwargs)

    monkeypatch.setattr(network.F, "scaled_dot_product_attention", watched)
    torch.manual_seed(0)
    q, k, v = torch.randn(3, 2, 6, 256, 30).unbind(0)
    bias = torch.randn(6, 256, 256)
    low = [t.bfloat16() for t in (q, k, v, bias)]
    padded = network.attention(*low)
    network.attention(q, k, v, bias)
    assert widths == [32, 30]
    plain = network.attention(*low, pad=False)  # the same values, to bf16's precision
    torch.testing.assert_close(padded.float(), plain.float(), rtol=0.02, atol=0.02)
