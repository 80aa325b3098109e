"""Small checkpoints in the official layouts of the pretraining codebases users bring.

Each factory writes the keys, shapes and containers that the upstream code saves (MAE,
AudioMAE, Point-MAE, VideoMAE, timm, the paper's pickled release), at small dims, with random
values. The key names are spelled out here from the upstream layouts, not derived from the
mapping code under test. Every factory returns ``(checkpoint_object, expected)`` where
``expected`` maps timm names to the tensors a correct loader must produce.
"""

import argparse
import contextlib
import sys
import types

import torch
from torch import Tensor

Checkpoint = tuple[dict, dict[str, Tensor]]


def rand(*shape: int) -> Tensor:
    return torch.randn(*shape) * 0.02


def vit_block(prefix: str, dim: int, *, qkv_bias: bool = True) -> dict[str, Tensor]:
    """One pre-norm ViT block as MAE/timm/Point-MAE name it, under ``prefix``."""
    block = {
        f"{prefix}norm1.weight": 1 + rand(dim),
        f"{prefix}norm1.bias": rand(dim),
        f"{prefix}attn.qkv.weight": rand(3 * dim, dim),
        f"{prefix}attn.proj.weight": rand(dim, dim),
        f"{prefix}attn.proj.bias": rand(dim),
        f"{prefix}norm2.weight": 1 + rand(dim),
        f"{prefix}norm2.bias": rand(dim),
        f"{prefix}mlp.fc1.weight": rand(4 * dim, dim),
        f"{prefix}mlp.fc1.bias": rand(4 * dim),
        f"{prefix}mlp.fc2.weight": rand(dim, 4 * dim),
        f"{prefix}mlp.fc2.bias": rand(dim),
    }
    if qkv_bias:
        block[f"{prefix}attn.qkv.bias"] = rand(3 * dim)
    return block


def mae_decoder(dim: int, decoder_dim: int, patch_values: int, tokens: int) -> dict[str, Tensor]:
    """The MAE/AudioMAE decoder keys (present in pretraining checkpoints, to be ignored)."""
    return {
        "mask_token": rand(1, 1, decoder_dim),
        "decoder_embed.weight": rand(decoder_dim, dim),
        "decoder_embed.bias": rand(decoder_dim),
        "decoder_pos_embed": rand(1, tokens, decoder_dim),
        **vit_block("decoder_blocks.0.", decoder_dim),
        "decoder_norm.weight": 1 + rand(decoder_dim),
        "decoder_norm.bias": rand(decoder_dim),
        "decoder_pred.weight": rand(patch_values, decoder_dim),
        "decoder_pred.bias": rand(patch_values),
    }


def mae_image(dim: int = 32, depth: int = 2, patch: int = 4, grid: int = 4) -> Checkpoint:
    """facebookresearch/mae pretraining checkpoint: ``{'model': encoder + decoder}``."""
    encoder = {
        "cls_token": rand(1, 1, dim),
        "pos_embed": rand(1, 1 + grid * grid, dim),
        "patch_embed.proj.weight": rand(dim, 3, patch, patch),
        "patch_embed.proj.bias": rand(dim),
        **{k: v for i in range(depth) for k, v in vit_block(f"blocks.{i}.", dim).items()},
        "norm.weight": 1 + rand(dim),
        "norm.bias": rand(dim),
    }
    decoder = mae_decoder(dim, 16, patch * patch * 3, 1 + grid * grid)
    return {"model": {**encoder, **decoder}}, encoder


def audiomae(dim: int = 32, depth: int = 2, patch: int = 4, grid: tuple[int, int] = (8, 2)) -> Checkpoint:
    """facebookresearch/AudioMAE: ``{'model','optimizer','epoch','scaler','args'}``, one input channel."""
    tokens = 1 + grid[0] * grid[1]
    encoder = {
        "cls_token": rand(1, 1, dim),
        "pos_embed": rand(1, tokens, dim),
        "patch_embed.proj.weight": rand(dim, 1, patch, patch),
        "patch_embed.proj.bias": rand(dim),
        **{k: v for i in range(depth) for k, v in vit_block(f"blocks.{i}.", dim).items()},
        "norm.weight": 1 + rand(dim),
        "norm.bias": rand(dim),
    }
    checkpoint = {
        "model": {**encoder, **mae_decoder(dim, 16, patch * patch, tokens)},
        "optimizer": {"state": {}, "param_groups": [{"lr": 1e-4, "params": [0, 1]}]},
        "epoch": 32,
        "scaler": {"scale": 65536.0, "growth_factor": 2.0},
        "args": argparse.Namespace(model="mae_vit_base_patch16", mask_ratio=0.8, norm_pix_loss=True),
    }
    return checkpoint, encoder


def point_mae(dim: int = 32, depth: int = 2) -> Checkpoint:
    """Pang-Yatian/Point-MAE pretraining: ``{'base_model': {'module.MAE_encoder....': ...}, ...}``.

    No qkv bias; PointNet group encoder (Conv1d 3->128, BN, Conv1d 128->256; Conv1d 512->512,
    BN, Conv1d 512->dim); centre position MLP (Linear 3->128, GELU, Linear 128->dim).
    """
    group_encoder = {
        "first_conv.0.weight": rand(128, 3, 1),
        "first_conv.0.bias": rand(128),
        "first_conv.1.weight": 1 + rand(128),
        "first_conv.1.bias": rand(128),
        "first_conv.1.running_mean": rand(128),
        "first_conv.1.running_var": 1 + rand(128).abs(),
        "first_conv.1.num_batches_tracked": torch.tensor(100),
        "first_conv.3.weight": rand(256, 128, 1),
        "first_conv.3.bias": rand(256),
        "second_conv.0.weight": rand(512, 512, 1),
        "second_conv.0.bias": rand(512),
        "second_conv.1.weight": 1 + rand(512),
        "second_conv.1.bias": rand(512),
        "second_conv.1.running_mean": rand(512),
        "second_conv.1.running_var": 1 + rand(512).abs(),
        "second_conv.1.num_batches_tracked": torch.tensor(100),
        "second_conv.3.weight": rand(dim, 512, 1),
        "second_conv.3.bias": rand(dim),
    }
    pos_mlp = {
        "pos_embed.0.weight": rand(128, 3),
        "pos_embed.0.bias": rand(128),
        "pos_embed.2.weight": rand(dim, 128),
        "pos_embed.2.bias": rand(dim),
    }
    blocks = {k: v for i in range(depth) for k, v in vit_block(f"blocks.blocks.{i}.", dim, qkv_bias=False).items()}
    norm = {"norm.weight": 1 + rand(dim), "norm.bias": rand(dim)}
    model = {f"module.MAE_encoder.encoder.{k}": v for k, v in group_encoder.items()}
    model |= {f"module.MAE_encoder.{k}": v for k, v in {**pos_mlp, **blocks, **norm}.items()}
    model |= {
        "module.mask_token": rand(1, 1, dim),
        "module.decoder_pos_embed.0.weight": rand(128, 3),
        "module.decoder_pos_embed.2.weight": rand(dim, 128),
        **{f"module.MAE_decoder.{k}": v for k, v in vit_block("blocks.blocks.0.", dim, qkv_bias=False).items()},
        "module.MAE_decoder.norm.weight": 1 + rand(dim),
        "module.increase_dim.0.weight": rand(96, dim, 1),
    }
    checkpoint = {"base_model": model, "optimizer": {"state": {}, "param_groups": []}, "epoch": 300,
                  "metrics": {}, "best_metrics": {}}  # fmt: skip
    expected = {f"patch_embed.{k}": v for k, v in group_encoder.items()}
    expected |= pos_mlp | norm
    expected |= {k.replace("blocks.blocks.", "blocks."): v for k, v in blocks.items()}
    return checkpoint, expected


def videomae(dim: int = 32, depth: int = 2, patch: int = 4, tubelet: int = 2) -> Checkpoint:
    """MCG-NJU/VideoMAE pretraining: ``{'model': {'encoder.*', 'decoder.*', ...}}``; qkv without a
    bias module but with ``q_bias``/``v_bias``; Conv3d tubelet patch embedding; no saved pos_embed."""
    encoder = {
        "patch_embed.proj.weight": rand(dim, 3, tubelet, patch, patch),
        "patch_embed.proj.bias": rand(dim),
        "norm.weight": 1 + rand(dim),
        "norm.bias": rand(dim),
    }
    expected = dict(encoder)
    for i in range(depth):
        block = vit_block(f"blocks.{i}.", dim, qkv_bias=False)
        q_bias, v_bias = rand(dim), rand(dim)
        encoder |= block | {f"blocks.{i}.attn.q_bias": q_bias, f"blocks.{i}.attn.v_bias": v_bias}
        expected |= block | {f"blocks.{i}.attn.qkv.bias": torch.cat([q_bias, torch.zeros(dim), v_bias])}
    model = {f"encoder.{k}": v for k, v in encoder.items()}
    model |= {
        "encoder_to_decoder.weight": rand(16, dim),
        "mask_token": rand(1, 1, 16),
        **{f"decoder.{k}": v for k, v in vit_block("blocks.0.", 16).items()},
        "decoder.norm.weight": 1 + rand(16),
        "decoder.head.weight": rand(3 * tubelet * patch * patch, 16),
    }
    return {"model": model}, expected


def tiny_timm_vit(dim: int = 32, depth: int = 2, num_classes: int = 5, **kwargs):
    """A small timm VisionTransformer (32x32 RGB, patch 8, ``dim`` wide)."""
    import timm.models.vision_transformer as vit

    kwargs = {"img_size": 32, "patch_size": 8, "num_heads": 2, "num_classes": num_classes} | kwargs
    return vit.VisionTransformer(embed_dim=dim, depth=depth, **kwargs)


@contextlib.contextmanager
def timm_04_module_paths(model: torch.nn.Module, extra: dict[type, str] | None = None):
    """While active, the ``timm.layers.*`` classes in ``model`` pickle under timm 0.4's
    ``timm.models.layers.*`` paths (a fake old module registered only meanwhile), as the paper's
    released files and the official point/video checkpoints were made; ``extra`` gives other
    classes an old path of their own."""
    moved = {cls: "timm.models.layers." + cls.__module__.removeprefix("timm.layers.")
             for cls in {type(m) for m in model.modules()} if cls.__module__.startswith("timm.layers.")}  # fmt: skip
    moved |= extra or {}
    original = {cls: cls.__module__ for cls in moved}
    added = []
    try:
        for cls, path in moved.items():
            if path not in sys.modules:
                sys.modules[path] = types.ModuleType(path)
                added.append(path)
            setattr(sys.modules[path], cls.__qualname__, cls)
            cls.__module__ = path
        yield sorted(set(moved.values()))
    finally:
        for cls, path in original.items():
            cls.__module__ = path
        for path in added:
            del sys.modules[path]
