"""Cross-Modal Re-parameterization of one linear layer.

A target linear layer ``y = x W^T + b`` gains one or more auxiliary weights ``W'_k`` of the
same shape, taken from models pretrained on other modalities, each scaled by a learnable
scalar ``λ_k``::

    y = x (W + Σ_k λ_k W'_k)^T + b

After training, :meth:`CrossModalLinear.fuse` folds the sum into one plain ``nn.Linear``, so
the deployed model costs nothing extra.

Training runs through one autograd function, :class:`PathwayLinear`, at the cost of the plain
linear plus a few passes over the weight: the forward forms the summed weight once and lets it
go after the matmul; the backward forms it again (cheap next to the matmul) for the input's
gradient, computes the summed weight's gradient ``g_W`` once, and derives from it
``g_W'k = λ_k g_W`` and ``g_λk = <g_W, W'_k>`` without full-size temporaries. Frozen auxiliary
weights and frozen λ cost no gradient work.

The auxiliary biases are not used. The pathway re-parameterizes weights only, as the method
defines it; the target's bias is the layer's bias before and after merging. (An auxiliary bias
is a per-channel offset of another modality's features: a constant shift of this layer's
outputs with no input-dependent knowledge in it.)
"""

import contextlib
from collections.abc import Iterator, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.autograd.function import once_differentiable

from m2pt.vocabulary import ParameterRole


def summed_weight(weight: Tensor, lambdas: Tensor, aux_weights: Sequence[Tensor]) -> Tensor:
    """``W + Σ_k λ_k W'_k`` (``[out, in]``) in one new tensor, one pass per auxiliary weight."""
    merged = torch.addcmul(weight, lambdas[0], aux_weights[0])
    for k in range(1, len(aux_weights)):
        merged.addcmul_(lambdas[k], aux_weights[k])
    return merged


def compute_dtype(x: Tensor, weight: Tensor) -> torch.dtype:
    """The dtype ``F.linear(x, weight)`` computes in: the autocast dtype where autocast is on
    for ``x``'s device (float64 is never cast), else the weight's own."""
    device = x.device.type
    if torch.is_autocast_enabled(device) and weight.dtype != torch.float64:
        return torch.get_autocast_dtype(device)
    return weight.dtype


def autocast_off(device_type: str) -> contextlib.AbstractContextManager:
    """Autocast switched off for ``device_type`` where it is on; where it is off, the null context
    (entering ``torch.autocast`` costs more than a small layer's extra arithmetic)."""
    if torch.is_autocast_enabled(device_type):
        return torch.autocast(device_type, enabled=False)
    return contextlib.nullcontext()


def cast(tensor: Tensor, dtype: torch.dtype) -> Tensor:
    """``tensor`` in ``dtype``: itself when it already is (without ``Tensor.to``'s call overhead)."""
    return tensor if tensor.dtype == dtype else tensor.to(dtype)


class PathwayLinear(torch.autograd.Function):
    """``y = x (W + Σ_k λ_k W'_k)^T + b`` with its backward written out (see the module doc).

    Inputs: ``x [..., in]``, ``weight [out, in]``, ``bias [out]`` or None, ``lambdas [K]``, then
    the K auxiliary weights ``[out, in]``. Saved for backward: ``x`` (in the compute dtype, as
    ``F.linear`` saves it), ``W``, ``λ`` and the ``W'_k``: no tensor of the summed weight.
    Under autocast it computes as ``F.linear`` would: the weight is summed in its own dtype,
    then the matmul runs in the autocast dtype.
    """

    @staticmethod
    def forward(ctx, x: Tensor, weight: Tensor, bias: Tensor | None, lambdas: Tensor, *aux_weights: Tensor) -> Tensor:
        dtype = compute_dtype(x, weight)
        with autocast_off(x.device.type):
            x_in = cast(x, dtype)
            merged = cast(summed_weight(weight, lambdas, aux_weights), dtype)
            y = F.linear(x_in, merged, None if bias is None else cast(bias, dtype))
        ctx.save_for_backward(x_in, weight, lambdas, *aux_weights)
        ctx.x_dtype = x.dtype
        return y

    @staticmethod
    @once_differentiable
    def backward(ctx, grad: Tensor) -> tuple[Tensor | None, ...]:
        x, weight, lambdas, *aux_weights = ctx.saved_tensors
        needs_x, needs_weight, needs_bias, needs_lambdas, *needs_aux = ctx.needs_input_grad
        grad_x = grad_weight = grad_bias = grad_lambdas = None
        grad_aux: list[Tensor | None] = [None] * len(aux_weights)
        with autocast_off(grad.device.type):
            grad_2d = grad.reshape(-1, grad.shape[-1])  # [N, out]: one copy where grad is strided, for both matmuls
            scratch = None
            if needs_x:
                scratch = summed_weight(weight, lambdas, aux_weights)  # formed again, [out, in]
                grad_x = cast(grad_2d @ cast(scratch, x.dtype), ctx.x_dtype).view(x.shape)
            if needs_bias:
                grad_bias = cast(grad_2d.sum(0), weight.dtype)
            if needs_weight or needs_lambdas or any(needs_aux):
                # g_W [out, in] into the summed weight's memory, which has served its purpose
                reuse = scratch if scratch is not None and scratch.dtype == x.dtype else None
                grad_merged = cast(torch.mm(grad_2d.T, x.reshape(-1, x.shape[-1]), out=reuse), weight.dtype)
                if needs_lambdas:
                    flat = grad_merged.view(-1)
                    grad_lambdas = torch.stack([torch.dot(flat, aux.view(-1)) for aux in aux_weights])
                for k, needs in enumerate(needs_aux):
                    if needs:
                        grad_aux[k] = torch.mul(grad_merged, lambdas[k])
                if needs_weight:
                    grad_weight = grad_merged
        return grad_x, grad_weight, grad_bias, grad_lambdas, *grad_aux


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
        return summed_weight(self.weight, self.lambdas, list(self.aux_weights))

    @torch.no_grad()
    def contributions(self) -> Tensor:
        """``[K]``: the effective contribution ``|λ_k| ‖W'_k‖ / ‖W‖`` (Frobenius norms) of each
        auxiliary weight to the merged weight: the size of its change relative to the layer's own."""
        aux_norms = torch.stack([aux.float().norm() for aux in self.aux_weights])
        return self.lambdas.detach().float().abs() * aux_norms / self.weight.float().norm()

    def forward(self, x: Tensor) -> Tensor:
        return PathwayLinear.apply(x, self.weight, self.bias, self.lambdas, *self.aux_weights)

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
