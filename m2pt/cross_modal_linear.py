"""Cross-Modal Re-parameterization of one linear layer.

A target linear layer ``y = x W^T + b`` gains one or more auxiliary weights ``W'_k`` of the
same shape, taken from models pretrained on other modalities, each scaled by a learnable
scalar ``λ_k``::

    y = x (W + Σ_k λ_k W'_k)^T + b

After training, :meth:`CrossModalLinear.fuse` folds the sum into one plain ``nn.Linear``, so
the deployed model costs nothing extra.

The auxiliary biases are not used. The pathway re-parameterizes weights only, as the method
defines it; the target's bias is the layer's bias before and after merging. (An auxiliary bias
is a per-channel offset of another modality's features: a constant shift of this layer's
outputs with no input-dependent knowledge in it.)
"""

from collections.abc import Iterator, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from m2pt.vocabulary import ParameterRole


class CrossModalLinear(nn.Module):
    """``x [..., in] -> [..., out]`` through ``W + Σ_k λ_k W'_k``, with the target's bias.

    Parameters (state-dict keys): ``weight [out, in]`` and ``bias [out]`` are the target
    layer's own parameters (the same objects, not copies); ``aux_weights.{k} [out, in]`` are
    the auxiliary weights; ``lambdas [K]`` holds one scalar per auxiliary weight.
    """

    def __init__(
        self,
        target: nn.Linear,
        aux_weights: Sequence[Tensor],
        *,
        lambda_init: float = 0.0,
        aux_trainable: bool = True,
        lambda_trainable: bool = True,
    ) -> None:
        super().__init__()
        if not aux_weights:
            raise ValueError("CrossModalLinear needs at least one auxiliary weight")
        for k, aux in enumerate(aux_weights):
            if aux.shape != target.weight.shape:
                raise ValueError(
                    f"auxiliary weight {k} has shape {list(aux.shape)}, "
                    f"the target linear's weight has {list(target.weight.shape)}"
                )
        self.in_features = target.in_features
        self.out_features = target.out_features
        self.weight = target.weight
        self.bias = target.bias
        like = {"device": target.weight.device, "dtype": target.weight.dtype}
        self.aux_weights = nn.ParameterList(
            nn.Parameter(aux.detach().to(**like).clone(), requires_grad=aux_trainable) for aux in aux_weights
        )
        self.lambdas = nn.Parameter(
            torch.full((len(aux_weights),), float(lambda_init), **like), requires_grad=lambda_trainable
        )

    def merged_weight(self) -> Tensor:
        """``W + Σ_k λ_k W'_k`` as one ``[out, in]`` tensor (differentiable in every term)."""
        weight = self.weight
        for lam, aux in zip(self.lambdas, self.aux_weights):
            weight = torch.addcmul(weight, lam, aux)
        return weight

    @torch.no_grad()
    def contributions(self) -> Tensor:
        """``[K]``: the effective contribution ``|λ_k| ‖W'_k‖ / ‖W‖`` (Frobenius norms) of each
        auxiliary weight to the merged weight: the size of its change relative to the layer's own."""
        aux_norms = torch.stack([aux.float().norm() for aux in self.aux_weights])
        return self.lambdas.detach().float().abs() * aux_norms / self.weight.float().norm()

    def forward(self, x: Tensor) -> Tensor:
        return F.linear(x, self.merged_weight(), self.bias)

    @torch.no_grad()
    def fuse(self) -> nn.Linear:
        """A plain ``nn.Linear`` computing the same function (also what timm's
        ``reparameterize_model`` calls)."""
        like = {"device": self.weight.device, "dtype": self.weight.dtype}
        linear = nn.Linear(self.in_features, self.out_features, bias=self.bias is not None, **like)
        linear.weight.copy_(self.merged_weight())
        linear.weight.requires_grad_(self.weight.requires_grad)
        if self.bias is not None:
            linear.bias.copy_(self.bias)
            linear.bias.requires_grad_(self.bias.requires_grad)
        return linear

    def extra_repr(self) -> str:
        lambdas = ", ".join(f"{v:.4g}" for v in self.lambdas.detach().float().tolist())
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"bias={self.bias is not None}, lambdas=[{lambdas}]"
        )

    def parameter_roles(self) -> Iterator[tuple[nn.Parameter, ParameterRole]]:
        """λ and the auxiliary weights; ``weight`` and ``bias`` keep the role of the layer they came from."""
        yield self.lambdas, ParameterRole.LAMBDA
        yield from ((aux, ParameterRole.AUX) for aux in self.aux_weights)
