"""The training loop shared by every stage.

A stage describes what to train as a :class:`TrainingSpec` (the module, its loss on a batch, its
optimizer parameter groups, how to evaluate it, what to log); :func:`fit` runs it with a small
:class:`~m2pt.train.config.TrainConfig`: AdamW over the given groups, cosine schedule with warm-up, gradient accumulation and clipping, autocast and loss scaling on
GPU, DistributedDataParallel under torchrun, a progress bar with throughput and ETA, metrics
and λ logs, validation after every ``eval_every``-th epoch and the last, and an atomic ``last``
(and ``best``) checkpoint after every epoch. ``resume=True``
continues from ``last``: model, optimizer, loss scaler, RNG states and step, so the finished
run matches one that never stopped. A non-finite loss stops the run with a
:class:`TrainingDiverged` error and leaves the last good checkpoint in place; the losses are
checked on the host only at log steps and epoch ends (each check is a device synchronisation),
and nothing is saved from a step after a non-finite loss.

``checkpoint_every`` (steps) and ``checkpoint_minutes`` also write ``last`` inside an epoch, after
the step's records: it holds the position in the epoch (micro-batches seen), the losses of the
epoch so far and the RNG states; a resume skips the batches already seen (the sampler's order is
seeded per epoch) and continues as if it had never stopped. ``best`` is only written at epoch ends.
With ``optim.ema_decay`` a :class:`timm.utils.ModelEmaV3` average of the weights is kept (and
checkpointed as ``ema``): validation, ``best`` and ``on_epoch_end`` see the average, and when
training ends the module holds the averaged weights (what the stage saves as the run's model).
"""

import contextlib
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from timm.utils import ModelEmaV3
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel
from tqdm.auto import tqdm

from m2pt.batches import first_tensor, to_device
from m2pt.run_dir import RunDir
from m2pt.train.config import TrainConfig
from m2pt.train.device import autocast, autocast_dtype
from m2pt.train.distributed import World, barrier
from m2pt.train.optim import build_optimizer, cosine_lr, set_learning_rate

LossFn = Callable[[nn.Module, Any], tuple[Tensor, dict[str, float]]]


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite."""


@dataclass
class TrainingSpec:
    """What a stage trains."""

    model: nn.Module  # the module trained (its state is checkpointed)
    loss: LossFn  # (module, batch) -> (loss, {metric: value}); the module may be DDP-wrapped
    param_groups: Callable[[nn.Module], list[dict]]  # the optimizer's groups of the model on its device
    evaluate: Callable[[nn.Module], dict[str, float]] | None = None  # -> {"val_acc": ...}
    monitor: str | None = None  # the evaluation metric that picks "best"
    monitor_mode: str = "max"  # "max" or "min"
    log_extra: Callable[[nn.Module], dict[str, Any]] | None = None  # extra records, e.g. λ per layer
    on_epoch_end: Callable[[nn.Module, int], None] | None = None  # after epoch (1-based), before its checkpoint


def fit(
    task: TrainingSpec,
    config: TrainConfig,
    run: RunDir,
    world: World,
    device: torch.device,
    loader,
    sampler,
    *,
    resume: bool = False,
) -> dict[str, Any]:
    """Train ``task`` for ``config.epochs`` epochs; return the run's summary."""
    model = task.model.to(device)
    optimizer = build_optimizer(task.param_groups(model), config.optim)
    dtype = autocast_dtype(config.precision, device)
    scaler = torch.amp.GradScaler(device.type, enabled=dtype == torch.float16)
    ema = (
        ModelEmaV3(model, decay=config.optim.ema_decay, use_warmup=config.optim.ema_warmup)
        if config.optim.ema_decay
        else None
    )
    accum = config.optim.accum_steps
    steps_per_epoch = len(loader) // accum
    if steps_per_epoch == 0:
        raise ValueError(f"an epoch of {len(loader)} batches is shorter than optim.accum_steps={accum}")
    total_steps = config.epochs * steps_per_epoch
    warmup_steps = round(config.optim.warmup_epochs * steps_per_epoch)

    state = {"epoch": 0, "step": 0, "batch": 0, "best": None, "seconds": 0.0, "partial": None}
    if resume and run.last.exists():
        state = _restore(run, model, optimizer, scaler, ema)
    run.truncate_logs(state["step"], state["epoch"])  # what a killed run logged past its checkpoint (or all)
    trained = torch.compile(model) if config.compile else model
    if world.distributed:
        trained = DistributedDataParallel(trained, device_ids=[device] if device.type == "cuda" else None)
    averaged = ema.module if ema else model  # what is validated and kept

    step, best, last_eval = state["step"], state["best"], {}
    shown = world.is_main and config.verbose
    progress = tqdm(total=total_steps, initial=step, unit="step", disable=not shown, dynamic_ncols=True)
    started = time.perf_counter() - state["seconds"]
    saved_at = time.perf_counter()
    try:
        for epoch in range(state["epoch"], config.epochs):
            sampler.set_epoch(epoch)
            seen = state["batch"] if epoch == state["epoch"] else 0  # micro-batches a mid-epoch checkpoint saw
            window, epoch_losses, samples = _partial(state["partial"] if seen else None, device)
            sampler.skip(seen * loader.batch_size)
            model.train()
            epoch_start = time.perf_counter()
            for index, batch in enumerate(loader, start=seen):
                boundary = (index + 1) % accum == 0
                if index >= steps_per_epoch * accum:
                    break
                set_learning_rate(
                    optimizer, cosine_lr(step, total_steps, warmup_steps, config.optim.lr, config.optim.min_lr)
                )
                batch = to_device(batch, device)
                with _no_sync(trained, not boundary), autocast(device, dtype):
                    loss, metrics = task.loss(trained, batch)
                scaler.scale(loss / accum).backward()
                window.append(loss.detach())
                epoch_losses.append(window[-1])
                samples += len(first_tensor(batch)) * world.size
                if not boundary:
                    continue
                if config.optim.clip_grad:
                    scaler.unscale_(optimizer)
                    torch.nn.utils.clip_grad_norm_(model.parameters(), config.optim.clip_grad)
                scaler.step(optimizer)
                scaler.update()
                optimizer.zero_grad(set_to_none=True)
                step += 1
                if ema:
                    ema.update(model, step=step)
                progress.update()
                if step % config.log_every == 0 or step == total_steps:
                    _check_finite(window, run, epoch, step)
                    rate = samples / (time.perf_counter() - epoch_start)
                    record = {"step": step, "epoch": epoch + 1, "split": "train", "loss": torch.stack(window).mean().item(),
                              "lr": optimizer.param_groups[0]["lr"] / optimizer.param_groups[0]["lr_scale"],
                              "samples_per_s": rate, **metrics}  # fmt: skip
                    run.log(record)
                    if task.log_extra:
                        run.log({"step": step, "epoch": epoch + 1, **task.log_extra(model)}, RunDir.LAMBDAS)
                    progress.set_postfix(loss=f"{record['loss']:.4f}", rate=f"{rate:.0f}/s", refresh=False)
                    window = []
                if index + 1 < steps_per_epoch * accum and _checkpoint_due(config, step, saved_at):
                    _check_finite(epoch_losses, run, epoch, step)
                    inside = {"epoch": epoch, "step": step, "batch": index + 1, "best": best,
                              "seconds": time.perf_counter() - started,
                              "partial": {"window": _stacked(window), "losses": _stacked(epoch_losses),
                                          "samples": samples}}  # fmt: skip
                    _save(run, model, optimizer, scaler, ema, inside, best=False)
                    saved_at = time.perf_counter()
            _check_finite(epoch_losses, run, epoch, step)
            train_loss = torch.stack(epoch_losses).mean().item()
            model.eval()
            due = epoch + 1 == config.epochs or bool(config.eval_every) and (epoch + 1) % config.eval_every == 0
            last_eval = task.evaluate(averaged) if task.evaluate and world.is_main and due else {}
            improved = bool(task.monitor and last_eval) and _better(last_eval[task.monitor], best, task.monitor_mode)
            best = last_eval[task.monitor] if improved else best
            state = {"epoch": epoch + 1, "step": step, "batch": 0, "best": best,
                     "seconds": time.perf_counter() - started, "partial": None}  # fmt: skip
            # One transaction per epoch, committed by the last checkpoint: the epoch's records and
            # files first, then best, then last. A kill before last.pt is replaced leaves the
            # previous checkpoint's state, and the resumed run drops the later records and redoes them.
            if last_eval:
                run.log({"step": step, "epoch": epoch + 1, "split": "val", **last_eval})
            run.log_epoch({"epoch": epoch + 1, "step": step, "train_loss": train_loss, **last_eval,
                           "seconds": round(state["seconds"], 2)})  # fmt: skip
            if task.on_epoch_end and world.is_main:
                task.on_epoch_end(averaged, epoch + 1)
            _save(run, model, optimizer, scaler, ema, state, best=improved)
            saved_at = time.perf_counter()
            if shown:
                values = ", ".join(f"{k} {v:.4f}" for k, v in last_eval.items())
                progress.write(
                    f"epoch {epoch + 1}/{config.epochs}: train loss {train_loss:.4f}"
                    + (f", {values}" if values else "")
                )
            barrier(world)
        if not last_eval and task.evaluate and world.is_main:  # resumed after the last epoch's checkpoint
            averaged.eval()
            last_eval = task.evaluate(averaged)
        if ema:
            model.load_state_dict(ema.module.state_dict())  # the run's result is the average
    finally:
        progress.close()
        del trained, optimizer
    return {"epochs": config.epochs, "steps": step, "seconds": round(time.perf_counter() - started, 2),
            "best": best, "monitor": task.monitor, "final": last_eval}  # fmt: skip


def _checkpoint_due(config: TrainConfig, step: int, saved_at: float) -> bool:
    """A mid-epoch checkpoint is due after this step (``checkpoint_every`` steps or ``checkpoint_minutes``)."""
    by_steps = bool(config.checkpoint_every) and step % config.checkpoint_every == 0
    by_time = bool(config.checkpoint_minutes) and time.perf_counter() - saved_at >= 60 * config.checkpoint_minutes
    return by_steps or by_time


def _stacked(losses: list[Tensor]) -> Tensor:
    return torch.stack(losses).cpu() if losses else torch.empty(0)


def _partial(saved: dict[str, Any] | None, device: torch.device) -> tuple[list[Tensor], list[Tensor], int]:
    """The log window, the epoch's losses and its sample count: empty, or as a mid-epoch checkpoint left them."""
    if saved is None:
        return [], [], 0
    return list(saved["window"].to(device).unbind()), list(saved["losses"].to(device).unbind()), saved["samples"]


def _check_finite(losses: list[Tensor], run: RunDir, epoch: int, step: int) -> None:
    """Raise :class:`TrainingDiverged` if any loss since the last check is NaN or infinite."""
    if not losses:
        return
    stacked = torch.stack(losses)
    if not torch.isfinite(stacked).all():
        bad = stacked[~torch.isfinite(stacked)][0].item()
        raise TrainingDiverged(
            f"loss became {bad} in epoch {epoch + 1}, before step {step}. The last good checkpoint "
            f"({run.last if run.last.exists() else 'none yet'}) is kept; try a lower optim.lr or set "
            "optim.clip_grad, then --resume"
        )


def _better(value: float, best: float | None, mode: str) -> bool:
    return best is None or (value > best if mode == "max" else value < best)


def rng_state() -> dict[str, Any]:
    state = {"torch": torch.get_rng_state(), "python": random.getstate()}
    kind, keys, position, has_gauss, cached = np.random.get_state()
    state["numpy"] = {"keys": torch.from_numpy(keys.astype(np.int64)), "position": position,
                      "has_gauss": has_gauss, "cached": cached}  # fmt: skip
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    random.setstate(_tuples(state["python"]))
    numpy = state["numpy"]
    np.random.set_state(("MT19937", numpy["keys"].numpy().astype(np.uint32), numpy["position"],
                         numpy["has_gauss"], numpy["cached"]))  # fmt: skip
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _save(run: RunDir, model, optimizer, scaler, ema, state: dict[str, Any], *, best: bool) -> None:
    checkpoint = {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "scaler": scaler.state_dict(),
                  "rng": rng_state(), **state}  # fmt: skip
    if ema:
        checkpoint["ema"] = ema.module.state_dict()
    if best:
        run.save_state(checkpoint, run.best)
    run.save_state(checkpoint, run.last)


def _restore(run: RunDir, model, optimizer, scaler, ema) -> dict[str, Any]:
    checkpoint = torch.load(run.last, map_location="cpu", weights_only=True)
    model.load_state_dict(checkpoint["model"])
    optimizer.load_state_dict(checkpoint["optimizer"])
    scaler.load_state_dict(checkpoint["scaler"])
    if ema:
        ema.module.load_state_dict(checkpoint["ema"])
    set_rng_state(checkpoint["rng"])
    batch = checkpoint.get("batch", 0)
    where = f"inside epoch {checkpoint['epoch'] + 1} (batch {batch})" if batch else f"after epoch {checkpoint['epoch']}"
    print(f"resuming {run.path} {where} (step {checkpoint['step']})")
    return {k: checkpoint.get(k) for k in ("epoch", "step", "best", "seconds", "partial")} | {"batch": batch}


def _no_sync(model: nn.Module, skip: bool):
    """DDP's gradient sync skipped on accumulation micro-steps."""
    if skip and isinstance(model, DistributedDataParallel):
        return model.no_sync()
    return contextlib.nullcontext()


def _tuples(value):
    """torch.load returns python's RNG state with lists where tuples were."""
    return tuple(_tuples(v) for v in value) if isinstance(value, (list, tuple)) else value
