"""Train every built-in preset from the command line and report what it reached.

For each preset: wall time, the training loss of the first and the last epoch (it must be
finite, and falling, except in a two-player game: see ``LEARNED``), the headline validation
metrics, and the primary metric on the validation and test splits beside chance. Exits
non-zero if any preset fails or did not learn.

    python -m workbench.tools.check_presets [--epochs-scale 1.0] [--only NAME ...] [--markdown FILE]
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from workbench.core.presets import list_presets

HEADLINE = ("accuracy", "macro_f1", "mean_recall", "t2i_r10", "i2t_r10", "t2i_median_rank",
            "i2t_median_rank", "recon_error_image", "recon_error_image_from_text", "d_real",
            "d_fake", "d_wrong")


def _falling(losses: list[float], metrics: dict) -> bool:
    return losses[-1] < losses[0]


def _discriminating(losses: list[float], metrics: dict) -> bool:
    # The adversarial loss is D's plus G's: as D learns, G's part rises, so the sum need not
    # fall in a healthy game (it rises on the generate preset once D judges the pairing).
    # What must hold is that D tells real pairs from generated ones.
    return metrics["d_real"] > metrics["d_fake"]


# How each algorithm shows that it learned; loss falling unless named here.
LEARNED = {"adversarial": _discriminating}


def check(name: str, epochs_scale: float, out: Path) -> dict:
    from workbench.core.presets import load_preset
    from workbench.core.pretrained.locate import missing_models
    preset = load_preset(name)
    missing = missing_models(preset)
    if missing:  # a preset for models that do not come with the workbench (CLIP)
        return {"preset": name, "ok": True, "skipped": True,
                "error": f"not run: needs {', '.join(missing)}, not on this machine"}
    epochs = max(2, round(preset.training.epochs * epochs_scale))
    run_dir = out / name
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "workbench", "train", name, "--json",
                           "--epochs", str(epochs), "--out", str(run_dir)],
                          capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        return {"preset": name, "ok": False, "seconds": seconds,
                "error": proc.stderr.strip().splitlines()[-1:]}
    result = json.loads(proc.stdout)
    losses = [json.loads(line)["train"]["loss"]
              for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    learned = LEARNED.get(preset.algorithm.name, _falling)
    ok = all(math.isfinite(v) for v in losses) and learned(losses, result["metrics"])
    primary = result.get("primary")
    return {"preset": name, "ok": ok, "seconds": round(seconds, 1), "epochs": epochs,
            "first_loss": losses[0], "last_loss": losses[-1],
            "metrics": {k: result["metrics"][k] for k in HEADLINE if k in result["metrics"]},
            "primary": primary,
            "val": result["metrics"].get(primary), "test": result["test_metrics"].get(primary),
            "chance": result["chance"].get("test", {}).get(primary),
            "health": result.get("health", {}), "warnings": result.get("warnings", [])}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs-scale", type=float, default=1.0)
    parser.add_argument("--only", nargs="*", metavar="NAME")
    parser.add_argument("--markdown", metavar="FILE")
    args = parser.parse_args()
    names = args.only or [p.name for p in list_presets() if p.builtin]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            row = check(name, args.epochs_scale, Path(tmp))
            rows.append(row)
            print(json.dumps(row), file=sys.stderr, flush=True)
    lines = ["| preset | epochs | time | loss first -> last | primary: validation / test "
             "(chance) | validation |", "| --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        if "first_loss" not in r:
            what = r.get("error") if r.get("skipped") else f"FAILED: {r.get('error')}"
            lines.append(f"| `{r['preset']}` | | | {what} | | |")
            continue
        shown = ", ".join(f"{k} {v:.3g}" for k, v in r["metrics"].items())
        primary = "none" if r["primary"] is None else \
            f"{r['primary']} {_num(r['val'])} / {_num(r['test'])} ({_num(r['chance'])})"
        lines.append(f"| `{r['preset']}` | {r['epochs']} | {r['seconds']:.0f} s | "
                     f"{r['first_loss']:.3f} -> {r['last_loss']:.3f} | {primary} | {shown} |")
    table = "\n".join(lines)
    print(table)
    if args.markdown:
        Path(args.markdown).write_text(table + "\n", encoding="utf-8")
    return 0 if all(r["ok"] for r in rows) else 1


def _num(value) -> str:
    return "-" if value is None else f"{value:.3f}"


if __name__ == "__main__":
    raise SystemExit(main())
