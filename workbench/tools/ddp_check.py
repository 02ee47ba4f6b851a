"""Check multi-process training against one process on this machine, and CUDA training.

Generates a small image folder, then trains the same config (dropout and augmentation off,
SGD, the same seed and global batch) several ways, each as its own ``workbench train``
command, and compares the final weights and losses with the first:

1. CPU, one process (the reference)
2. CPU, two processes under torchrun (gloo)
3. CUDA, one process (``--device cuda``), when a GPU is present
4. CUDA, two processes under torchrun (NCCL, one GPU each), when two GPUs are present

    python -m workbench.tools.ddp_check [--algorithm autoencoder] [--pairs 512] [--epochs 2]

Two CPU runs must agree to 1e-5 (only the order of float32 sums differs, see
tests/core/test_distributed.py), and the two CUDA runs to 1e-4 (GPU reductions are not
bit-reproducible). CUDA against CPU is reported, not checked: cuDNN convolutions use TF32
by default, so those differ at about 1e-3. Exits non-zero when a run fails or a check does
not hold. Takes about a minute.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from workbench.tools.scale_check import generate_image_folder

CPU_TOLERANCE = 1e-5
CUDA_TOLERANCE = 1e-4
# Rank-based metrics jump by 1/N when two near-equal scores swap: compared losses only.
DISCRETE = ("t2i_", "i2t_", "mean_recall", "accuracy", "macro_f1")

# algorithm -> fusion and parameters that make a deterministic, comparable run
SETTINGS = {
    "autoencoder": ["fusion.name=attention", "algorithm.params.corr_loss=infonce"],
    "contrastive": ["fusion.name=mean"],
    "classifier": ["fusion.name=attention"],
}


def config_file(folder: Path, algorithm: str, epochs: int, batch: int, dest: Path) -> Path:
    from workbench.core import config as C
    cfg = C.apply_overrides(C.ExperimentConfig(), [
        f"data.source={folder}", "preprocess.image_size=16", "model.embed_dim=32",
        "model.hidden_dim=32", "model.dropout=0.0", "training.augment_images=false",
        f"training.batch_size={batch}", f"training.epochs={epochs}", "training.val_every=1",
        "data.val_fraction=0.2", "data.test_fraction=0.0", "optimizer.name=sgd",
        "optimizer.lr=0.1", f"algorithm.name={algorithm}", *SETTINGS[algorithm]])
    return C.save(cfg, dest)


def train(preset: Path, out: Path, *, device: str, processes: int) -> dict:
    """One ``workbench train`` (under torchrun when ``processes`` > 1): its JSON result,
    final weights and wall time."""
    import torch
    command = [sys.executable, "-m", "workbench", "train", str(preset), "--json",
               "--out", str(out), "--device", device]
    if processes > 1:
        command[1:3] = ["-m", "torch.distributed.run", "--standalone",
                        f"--nproc_per_node={processes}", "-m", "workbench"]
    t0 = time.perf_counter()
    proc = subprocess.run(command, capture_output=True, text=True, timeout=600,
                          check=False)
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        return {"ok": False, "seconds": seconds, "error": proc.stderr.strip()[-2000:]}
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    ckpt = torch.load(out / "checkpoints" / "last.pt", map_location="cpu", weights_only=True)
    steps = [json.loads(line)["losses"]["loss"]
             for line in (out / "steps.jsonl").read_text().splitlines()]
    return {"ok": True, "seconds": seconds, "result": result, "weights": ckpt["model"],
            "steps": steps}


def compare(a: dict, b: dict) -> dict:
    weights = max((a["weights"][k].float() - b["weights"][k].float()).abs().max().item()
                  for k in a["weights"])
    steps = max(abs(x - y) for x, y in zip(a["steps"], b["steps"]))
    val_a, val_b = a["result"]["metrics"], b["result"]["metrics"]
    val = max(abs(val_a[k] - val_b[k]) for k in val_a if not k.startswith(DISCRETE))
    return {"weights": weights, "step_losses": steps, "val_metrics": val,
            "same_steps": len(a["steps"]) == len(b["steps"])}


def main(argv: list[str] | None = None) -> int:
    import torch

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--algorithm", choices=sorted(SETTINGS), default="autoencoder")
    p.add_argument("--pairs", type=int, default=512)
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--batch", type=int, default=64, help="the global batch")
    p.add_argument("--keep", metavar="DIR", help="keep the data and runs here")
    args = p.parse_args(argv)

    gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
    print(f"torch {torch.__version__}, {gpus} CUDA GPU(s)"
          + (f": {torch.cuda.get_device_name(0)}" if gpus else ""), flush=True)
    base = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="ddp_check-"))
    base.mkdir(parents=True, exist_ok=True)
    folder = generate_image_folder(base / "data", args.pairs)
    preset = config_file(folder, args.algorithm, args.epochs, args.batch, base / "check.toml")

    plan = [("cpu x1", "cpu", 1), ("cpu x2 (gloo)", "cpu", 2)]
    if gpus >= 1:
        plan.append(("cuda x1", "cuda", 1))
    if gpus >= 2:
        plan.append(("cuda x2 (nccl)", "cuda", 2))
    runs = {}
    ok = True
    for name, device, n in plan:
        run = train(preset, base / name.split()[0].replace(" ", "") / f"p{n}", device=device,
                    processes=n)
        runs[name] = run
        if run["ok"]:
            loss = run["steps"][-1]
            print(f"{name:16s} {run['seconds']:6.1f} s  last step loss {loss:.6f}  "
                  f"val loss {run['result']['metrics'].get('loss', float('nan')):.6f}",
                  flush=True)
        else:
            ok = False
            print(f"{name:16s} FAILED after {run['seconds']:.1f} s:\n{run['error']}", flush=True)

    checks = [("cpu x2 (gloo)", "cpu x1", CPU_TOLERANCE),
              ("cuda x2 (nccl)", "cuda x1", CUDA_TOLERANCE), ("cuda x1", "cpu x1", None)]
    for a, b, tol in checks:
        if not (runs.get(a, {}).get("ok") and runs.get(b, {}).get("ok")):
            continue
        d = compare(runs[a], runs[b])
        worst = max(d["weights"], d["step_losses"], d["val_metrics"])
        verdict = "reported only" if tol is None else \
            ("ok" if worst <= tol and d["same_steps"] else f"FAILED (tolerance {tol:g})")
        if tol is not None and verdict != "ok":
            ok = False
        print(f"{a} vs {b}: max |weight diff| {d['weights']:.2e}, step losses "
              f"{d['step_losses']:.2e}, val metrics {d['val_metrics']:.2e}: {verdict}")
    if args.keep:
        print(f"data and runs in {base}")
    else:
        shutil.rmtree(base, ignore_errors=True)
    print("all checks passed" if ok else "SOME CHECKS FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
