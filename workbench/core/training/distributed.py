"""Multi-process (data-parallel) training under ``torchrun``.

``torchrun --nproc_per_node=N -m workbench train PRESET`` starts N copies of the command; each
reads RANK, WORLD_SIZE and LOCAL_RANK from its environment, and :func:`setup` joins them in one
process group (NCCL on CUDA, one GPU per LOCAL_RANK; gloo on the CPU).

How a step works, and why it matches a one-process run with the same ``batch_size``:

- **Sharding.** Every rank draws the same per-epoch permutation (same seed, same generator),
  cuts it into the same global batches of ``training.batch_size`` pairs, and takes its own
  contiguous slice of each (:func:`shard`). The slices are disjoint, cover the batch, and in
  rank order are exactly the one-process batch, so ``batch_size`` is the *global* batch.
- **Gradients.** Every rank ends each backward with the gradient of the mean loss over the
  global batch. Two ways, chosen per algorithm by :func:`gradient_sync`:

  - :class:`DataParallelSync`: an algorithm whose step is the default one (one
    ``forward_step``, one backward, one optimiser) is wrapped in PyTorch's
    ``DistributedDataParallel``, whose reducer all-reduces gradients in buckets while the
    backward is still running. DDP averages over processes; shares of unequal size (the last
    batch of an epoch) are weighted by scaling each rank's loss by ``n_r * W / sum n``.
  - :class:`GradSync`: an algorithm that owns its step (the adversarial one steps two
    optimisers, with one player frozen, several times per batch, on vectors computed once)
    does not fit DDP's one-forward-one-backward reducer; after each backward, the gradients
    of the optimiser about to step are all-reduced explicitly, weighted by share.
- **Batch-coupled losses.** A loss that compares samples within the batch (InfoNCE's
  negatives, soft-CCA's statistics) must see the global batch: the algorithm passes the rows
  through :func:`gather_rows`, which all-gathers them with a gradient.
- **Everything else** (validation, snapshots, checkpoints, the run folder, printing) happens
  on rank 0 only; the other ranks wait for it at their next collective.
"""

from __future__ import annotations

import contextlib
import datetime
import os
import socket
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import Tensor, nn

# training.dist_timeout's default: how long a collective waits for a process that does not
# answer. Longer than anything rank 0 does alone while the others wait at the next
# collective (validation, snapshots, checkpoint writes); a stopped or hung peer is reported
# after this long instead of blocking the group for PyTorch's default 30 minutes.
DEFAULT_TIMEOUT_S = 600

# Every rank's (host, pid), gathered once the group is made: a collective that fails can then
# say which process of the group is gone or stopped.
_peers: list[tuple[str, int]] = []
_timeout_s: float = DEFAULT_TIMEOUT_S
# Loading the data is not bounded by training.dist_timeout: rank 0 decodes the images and
# computes pretrained features (a ViT over 100,000 images on a CPU: most of an hour) while
# the others wait at a barrier of this gloo group of their own, whose timeout is a day.
LOAD_TIMEOUT = datetime.timedelta(hours=24)
_load_group = None


@dataclass(frozen=True)
class Context:
    """This process's place in the group."""

    rank: int
    world_size: int
    local_rank: int
    device: torch.device
    backend: str

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def launched() -> bool:
    """Whether this process is one of several started by ``torchrun`` (a one-process
    torchrun is an ordinary run: no group is made)."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def env_rank() -> int:
    """RANK from the environment (0 outside torchrun), usable before :func:`setup`."""
    return int(os.environ.get("RANK", "0"))


def setup(device_name: str, timeout_s: float = DEFAULT_TIMEOUT_S) -> Context | None:
    """Join the process group torchrun describes; None when not launched by torchrun.

    ``device_name`` is the config's device: ``cuda`` or ``auto`` with a GPU present means one
    GPU per process (``cuda:LOCAL_RANK``) and NCCL; anything else runs on the CPU with gloo.
    ``timeout_s`` (``training.dist_timeout``): how long a collective waits for a peer.
    """
    if not launched():
        return None
    rank = env_rank()
    world = int(os.environ["WORLD_SIZE"])
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    wants_cuda = device_name.startswith("cuda") or (device_name == "auto"
                                                   and torch.cuda.is_available())
    if wants_cuda:
        from ..errors import ConfigError
        if not torch.cuda.is_available():
            raise ConfigError(f"device {device_name!r} asked for, but no CUDA GPU is "
                              "available", key="device", value=device_name)
        if local_rank >= torch.cuda.device_count():
            raise ConfigError(f"process {local_rank} on this machine needs GPU {local_rank}, "
                              f"and only {torch.cuda.device_count()} are visible: start at most "
                              "that many processes per machine (--nproc_per_node)",
                              key="device", value=device_name)
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
        backend = "nccl"
    else:
        if device_name not in ("auto", "cpu"):
            from ..errors import ConfigError
            raise ConfigError(f"multi-process training runs on CUDA GPUs or the CPU, not "
                              f"{device_name!r}", key="device", value=device_name)
        device, backend = torch.device("cpu"), "gloo"
    kwargs = {"device_id": device} if backend == "nccl" else {}
    global _timeout_s
    _timeout_s = timeout_s
    dist.init_process_group(backend, rank=rank, world_size=world,
                            timeout=datetime.timedelta(seconds=timeout_s), **kwargs)
    _peers[:] = [None] * world
    dist.all_gather_object(_peers, (socket.gethostname(), os.getpid()))
    global _load_group
    _load_group = dist.new_group(backend="gloo", timeout=LOAD_TIMEOUT)
    return Context(rank, world, local_rank, device, backend)


def teardown() -> None:
    global _load_group
    _peers.clear()
    _load_group = None
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


# -- a lost peer ----------------------------------------------------------------------------
# What the backends' errors say when a peer is gone or silent (gloo raises a plain
# RuntimeError naming its transport; newer PyTorch a DistError subclass).
_LOST_WORDS = ("gloo", "nccl", "connection reset", "connection closed", "timed out",
               "broken pipe")


def _process_state(pid: int) -> str | None:
    """What is wrong with process ``pid`` of this host: gone, stopped, or None (running,
    as far as can be told)."""
    from ..atomic import process_gone
    if process_gone(pid):
        return "is gone (killed, or crashed)"
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            state = fh.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return None
    if state in ("T", "t"):
        return "is stopped (SIGSTOP, or Ctrl-Z) and does not answer"
    if state in ("Z", "X"):
        return "is gone (killed, or crashed)"
    return None


# How long a failed collective waits for a peer that closed its connection to show as gone.
SETTLE_S = 1.0


def _peer_states(own_rank: int) -> list[str]:
    """"rank R (pid P) is gone ..." for each peer of this host that is gone or stopped."""
    here = socket.gethostname()
    found = []
    for rank, peer in enumerate(_peers):
        if rank == own_rank or not peer:
            continue
        host, pid = peer
        state = _process_state(pid) if host == here else None
        if state:
            found.append(f"rank {rank} (pid {pid}) {state}")
    return found


def lost_peer(exc: BaseException) -> str | None:
    """One line naming the process(es) of the group that a failed collective lost, or None
    when ``exc`` is not a collective's failure (or this process is in no group)."""
    ctx = current()
    text = str(exc)
    dist_error = getattr(dist, "DistError", ())
    if ctx is None or not (isinstance(exc, dist_error) or (
            isinstance(exc, RuntimeError) and any(w in text.lower() for w in _LOST_WORDS))):
        return None
    found = _peer_states(ctx.rank)
    deadline = time.monotonic() + SETTLE_S
    while not found and time.monotonic() < deadline:
        # A killed peer's sockets close while it exits, a moment before the system shows it
        # gone: the error can arrive first.
        time.sleep(0.05)
        found = _peer_states(ctx.rank)
    timed_out = "timed out" in text.lower() or "timeout" in text.lower()
    if not found:
        found.append(f"a process did not answer within training.dist_timeout = "
                     f"{_timeout_s:g} s" if timed_out else
                     f"a process stopped answering ({text.splitlines()[0][:160]})")
    elif timed_out:
        found[-1] += f" (waited training.dist_timeout = {_timeout_s:g} s)"
    return (f"lost a process of the {ctx.world_size}-process group: " + "; ".join(found))


def current() -> Context | None:
    """The context of the group this process has joined, or None (one process)."""
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() < 2:
        return None
    backend = dist.get_backend()
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    device = torch.device("cuda", torch.cuda.current_device()) if backend == "nccl" \
        else torch.device("cpu")
    return Context(dist.get_rank(), dist.get_world_size(), local_rank, device, backend)


def active() -> bool:
    return current() is not None


def refusal(algorithm: str) -> str | None:
    """Why multi-process training refuses ``algorithm`` (the registry's reason), or None."""
    from ..algorithms import ALGORITHMS
    if algorithm not in ALGORITHMS or not ALGORITHMS[algorithm].distributed_problem:
        return None
    spec = ALGORITHMS[algorithm]
    return f"multi-process training cannot run {spec.title}: {spec.distributed_problem}"


@contextlib.contextmanager
def main_first() -> Iterator[None]:
    """Rank 0 runs the block first, then the others: the first load decodes the images and
    fills the on-disk cache, the others read it instead of decoding again."""
    on = active()
    if on and dist.get_rank() != 0:
        _barrier()
    yield
    if on and dist.get_rank() == 0:
        _barrier()


def _barrier() -> None:
    if _load_group is not None:
        dist.barrier(group=_load_group)
    elif dist.get_backend() == "nccl":  # a group joined without setup()
        dist.barrier(device_ids=[torch.cuda.current_device()])
    else:
        dist.barrier()


# -- the sampler --------------------------------------------------------------------------
def shard(index: Tensor, rank: int, world_size: int) -> Tensor:
    """Rank ``rank``'s contiguous share of one global batch; shares differ by at most one
    row, are disjoint, and concatenated in rank order give ``index`` back."""
    return torch.tensor_split(index, world_size)[rank]


def split_sizes(n: int, world_size: int) -> list[int]:
    """The share sizes :func:`shard` gives for a batch of ``n``."""
    return [n // world_size + (1 if r < n % world_size else 0) for r in range(world_size)]


# -- collectives --------------------------------------------------------------------------
def broadcast_module(module: nn.Module) -> None:
    """Give every rank rank 0's parameters and buffers (the same seed already builds the same
    model; this also covers anything that was not seeded)."""
    with torch.no_grad():
        for t in list(module.parameters()) + list(module.buffers()):
            dist.broadcast(t.data, src=0)


class GradSync:
    """Makes every rank's gradients the global-batch gradient before its optimiser steps.

    Each rank's loss is a mean over its own ``local_size`` rows, so the global-batch mean's
    gradient is ``sum_r n_r g_r / sum_r n_r``; shares of unequal size (the last batch of an
    epoch) are weighted correctly. One all-reduce carries every gradient of the group, a
    has-gradient flag per parameter (a parameter with no gradient on any rank stays without
    one, so the optimiser skips it exactly as a one-process run would) and ``n_r``.
    Installed as the optimisers' ``grad_hook``: it runs after each backward, for the
    parameters of the optimiser about to step.
    """

    name = "explicit all-reduce"

    def __init__(self, optim) -> None:
        self.local_size = 1
        optim.grad_hook = self

    def begin_step(self, local_size: int) -> None:
        self.local_size = local_size

    def close(self) -> None:
        pass

    def __call__(self, params: Iterable[nn.Parameter]) -> None:
        params = list(params)
        if not params:
            return
        n = float(self.local_size)
        device = params[0].device
        flat = torch.cat([(p.grad if p.grad is not None else torch.zeros_like(p))
                          .detach().reshape(-1).float() for p in params]) * n
        flags = torch.tensor([p.grad is not None for p in params], dtype=torch.float32,
                             device=device)
        buf = torch.cat([flat, flags, torch.tensor([n], device=device)])
        dist.all_reduce(buf)
        total = buf[-1]
        grads = buf[:flat.numel()] / total
        has = buf[flat.numel():-1] > 0
        offset = 0
        for p, h in zip(params, has.tolist()):
            k = p.numel()
            if h:
                g = grads[offset:offset + k].view_as(p).to(p.dtype)
                if p.grad is None:
                    p.grad = g.clone()
                else:
                    p.grad.copy_(g)
            offset += k


class DataParallelSync:
    """Wraps ``model`` in ``DistributedDataParallel`` for its default training step.

    ``static_graph``: a run uses the same parameters at every step, and some configurations
    never use some (the classifier's text encoder under early fusion): DDP finds those in the
    first step and leaves their gradients at None, as one process would, without walking the
    autograd graph every step as ``find_unused_parameters`` does."""

    name = "DistributedDataParallel"

    def __init__(self, model, optim, ctx: Context) -> None:
        from torch.nn.parallel import DistributedDataParallel
        self.optim = optim
        self.world_size = ctx.world_size
        self.device = ctx.device
        # device_ids=None: the model sits on one device and the Trainer has already moved
        # the batch there (DDP's own input moving does not know the Batch class).
        self.wrapper = DistributedDataParallel(model, device_ids=None, static_graph=True)
        # The call, not the wrapper: a module attribute would make DDP a child of the model.
        model.data_parallel = self.wrapper.__call__

    def begin_step(self, local_size: int) -> None:
        """Weight this rank's loss by its share of the global batch (DDP divides the summed
        gradients by the number of processes)."""
        total = all_sum(torch.tensor([float(local_size)], device=self.device)).item()
        self.optim.loss_scale = local_size * self.world_size / total

    def close(self) -> None:
        self.wrapper.module.data_parallel = None


def gradient_sync(model, optim, ctx: Context) -> DataParallelSync | GradSync:
    """The gradient averaging for ``model``: DDP for the default one-backward step, explicit
    for an algorithm that overrides ``training_step``."""
    from ..algorithms.base import Algorithm
    if type(model).training_step is Algorithm.training_step:
        return DataParallelSync(model, optim, ctx)
    return GradSync(optim)


def reduce_step(values: dict[str, float], local_size: int, stop: bool,
                device: torch.device) -> tuple[dict[str, float], int, bool]:
    """The step's logged losses as global-batch means, the global batch size, and whether
    any rank wants to stop; in one all-reduce, so every rank takes the same decision (a rank
    leaving the loop alone would leave the others waiting forever)."""
    keys = sorted(values)
    n = float(local_size)
    buf = torch.tensor([values[k] * n for k in keys] + [n, float(stop)], dtype=torch.float64,
                       device=device)
    dist.all_reduce(buf)
    out = buf.tolist()
    total = out[-2]
    return ({k: v / total for k, v in zip(keys, out)}, round(total), out[-1] > 0)


def all_sum(t: Tensor) -> Tensor:
    """``t`` summed over the ranks (unchanged in one process); no gradient."""
    if current() is None:
        return t
    t = t.detach().clone()
    dist.all_reduce(t)
    return t


class _GatherRows(torch.autograd.Function):
    """All-gather rows along dim 0 (shares may differ in size), with a gradient.

    Every rank computes the same loss over the gathered rows; the backward keeps the gradient
    of this rank's own rows, scaled by ``total / n_local``: :class:`GradSync` then weights this
    rank by ``n_local / total``, so the two cancel and the sum over ranks is exactly the
    gradient of the global-batch loss (and a parameter outside the rows, such as a learned
    temperature, gets the weights' sum, 1, times its identical gradient).
    """

    @staticmethod
    def forward(ctx, x: Tensor, sizes: list[int], rank: int) -> Tensor:
        ctx.sizes, ctx.rank = sizes, rank
        return _all_gather_padded(x, sizes)

    @staticmethod
    def backward(ctx, grad: Tensor):
        sizes, rank = ctx.sizes, ctx.rank
        start = sum(sizes[:rank])
        n = sizes[rank]
        return grad[start:start + n] * (sum(sizes) / max(n, 1)), None, None


def _all_gather_padded(x: Tensor, sizes: list[int]) -> Tensor:
    # all_gather needs equal shapes: pad every share to the largest, then cut the padding.
    width = max(sizes)
    padded = x.new_zeros((width, *x.shape[1:]))
    padded[:len(x)] = x
    parts = [torch.empty_like(padded) for _ in sizes]
    dist.all_gather(parts, padded.contiguous())
    return torch.cat([p[:k] for p, k in zip(parts, sizes)])


def gather_rows(*tensors: Tensor | None) -> tuple[Tensor | None, ...]:
    """The global batch's rows of each tensor (rank order = the one-process batch order);
    the tensors unchanged when not distributed. Tensors that need a gradient keep it (see
    :class:`_GatherRows`); None stays None."""
    ctx = current()
    if ctx is None:
        return tensors
    present = [t for t in tensors if t is not None]
    n = torch.tensor([len(present[0])], device=present[0].device)
    counts = [torch.zeros_like(n) for _ in range(ctx.world_size)]
    dist.all_gather(counts, n)
    sizes = [int(c) for c in counts]
    out = []
    for t in tensors:
        if t is None:
            out.append(None)
        elif t.requires_grad:
            out.append(_GatherRows.apply(t, sizes, ctx.rank))
        else:
            out.append(_all_gather_padded(t, sizes))
    return tuple(out)
