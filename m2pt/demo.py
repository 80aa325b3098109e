"""A short end-to-end demonstration: re-parameterize -> train a few steps -> merge -> verify.

Target: a tiny ViT on scikit-learn's bundled 8x8 digits (upsampled to 16x16). Auxiliary: a
ViT of the same shape whose weights come from a checkpoint file (here one it first writes
itself, as a stand-in for a model pretrained on another modality).

    python -m m2pt.demo
"""

import tempfile
from pathlib import Path

import torch
import torch.nn.functional as F
from sklearn.datasets import load_digits
from timm.models.vision_transformer import VisionTransformer

from m2pt import cross_modal_layers, merge, reparameterize, save_checkpoint


def tiny_vit() -> VisionTransformer:
    return VisionTransformer(img_size=16, patch_size=4, in_chans=1, num_classes=10, embed_dim=64, depth=4, num_heads=2)


def digits() -> tuple[torch.Tensor, torch.Tensor]:
    """``images [N,1,16,16]`` scaled to [0,1], ``labels [N]``."""
    data = load_digits()
    images = torch.tensor(data.images, dtype=torch.float32)[:, None] / 16
    return F.interpolate(images, size=16, mode="bilinear"), torch.tensor(data.target)


def main(steps: int = 60) -> None:
    torch.manual_seed(0)
    images, labels = digits()
    with tempfile.TemporaryDirectory() as tmp:
        aux_path = save_checkpoint(Path(tmp) / "aux.safetensors", tiny_vit().state_dict(), {"note": "stand-in"})
        model = reparameterize(tiny_vit(), aux_path, lambda_init=0.0)
    print(f"re-parameterized {len(cross_modal_layers(model))} linear layers with {aux_path.name}")

    optimizer = torch.optim.AdamW(model.parameters(), lr=2e-3)
    for step in range(steps):
        index = torch.randint(0, len(images), (64,))
        loss = F.cross_entropy(model(images[index]), labels[index])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step % 20 == 0 or step == steps - 1:
            print(f"step {step:3d}  loss {loss.item():.3f}")

    model.eval()
    merged = merge(model)
    with torch.no_grad():
        difference = (merged(images) - model(images)).abs().max().item()
        accuracy = (merged(images).argmax(1) == labels).float().mean().item()
    fresh = tiny_vit()
    fresh.load_state_dict(merged.state_dict(), strict=True)
    lambdas = [layer.lambdas.item() for layer in cross_modal_layers(model).values()]
    print(f"λ after training: min {min(lambdas):+.4f}, max {max(lambdas):+.4f}")
    print(f"merged model: plain ViT (strict load OK), max |output difference| {difference:.1e}, "
          f"train accuracy {accuracy:.1%}")  # fmt: skip
    if difference > 1e-5:
        raise SystemExit("merge verification failed")


if __name__ == "__main__":
    main()
