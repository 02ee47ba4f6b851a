"""Many small images decode in worker processes: the same pixels and problems as decoding
in this process, progress to the end, a crashed worker's images decoded here instead, and
no re-run of the caller's script."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from workbench.core.data import decode_processes, images
from workbench.core.data.decode_processes import decode_in_processes
from workbench.core.data.images import decode_many

SIZE = 16


@pytest.fixture
def small_images(tmp_path: Path) -> list[Path]:
    """30 small images of different modes and shapes, a text file named .png, a missing
    file and a truncated PNG among them."""
    rng = np.random.default_rng(0)
    paths = []
    for i in range(30):
        w, h = 20 + i % 7, 12 + i % 5
        arr = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        im = Image.fromarray(arr)
        if i % 3 == 1:
            im = im.convert("L")
        elif i % 3 == 2:
            im = im.convert("RGBA")
        path = tmp_path / f"{i:03d}.png"
        im.save(path)
        paths.append(path)
    (tmp_path / "text.png").write_text("not an image")
    paths.insert(5, tmp_path / "text.png")
    paths.insert(11, tmp_path / "missing.png")
    data = paths[20].read_bytes()
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])
    paths.insert(17, tmp_path / "cut.png")
    return paths


def in_this_process(paths):
    return decode_many(paths, SIZE, workers=1)


def assert_same(got, expected):
    assert np.array_equal(got[0], expected[0])
    assert np.array_equal(got[1], expected[1])
    assert got[2] == expected[2]


def test_workers_decode_what_this_process_decodes(small_images):
    expected = in_this_process(small_images)
    assert sorted(expected[2]) == [5, 11, 17]  # the three bad files, reported by index
    seen = []
    got = decode_in_processes(small_images, SIZE, 2, progress=lambda d, n: seen.append((d, n)))
    assert_same(got, expected)
    assert seen[-1] == (len(small_images), len(small_images))
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)


def test_more_workers_than_images(small_images):
    assert_same(decode_in_processes(small_images[:3], SIZE, 8), in_this_process(small_images[:3]))


@pytest.mark.parametrize("command", [
    [sys.executable, "-c", "import sys; sys.exit(3)"],          # dies at once
    [sys.executable, "-c", "print('{\"done\": 1}')"],            # exits 0 without its end
    ["/nonexistent/python"],                                    # cannot start at all
])
def test_a_failed_worker_costs_speed_not_images(small_images, monkeypatch, command):
    monkeypatch.setattr(decode_processes, "worker_command", lambda: command)
    assert_same(decode_in_processes(small_images, SIZE, 2), in_this_process(small_images))


def test_many_small_images_go_to_processes_and_few_do_not(small_images, monkeypatch):
    calls = []
    real = decode_in_processes

    def spy(*args, **kwargs):
        calls.append(len(args[0]))
        return real(*args, **kwargs)

    monkeypatch.setattr(decode_processes, "decode_in_processes", spy)
    monkeypatch.setattr(images, "default_workers", lambda: 2)
    monkeypatch.setattr(images, "PROCESSES_MIN_IMAGES", 20)
    assert_same(decode_many(small_images, SIZE), in_this_process(small_images))
    assert calls == [len(small_images)]
    decode_many(small_images[:10], SIZE)  # below the threshold: decoded here
    assert calls == [len(small_images)]


def test_big_images_stay_in_threads(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(decode_processes, "decode_in_processes",
                        lambda *a, **k: calls.append(1))
    monkeypatch.setattr(images, "PROCESSES_MIN_IMAGES", 2)
    paths = []
    for i in range(3):
        Image.new("RGB", (200, 150), (i, 0, 0)).save(tmp_path / f"{i}.png")
        paths.append(tmp_path / f"{i}.png")
    pixels, _, problems = decode_many(paths, SIZE, workers=None)
    assert not calls and not problems and pixels[2, 0, SIZE // 2, SIZE // 2] == 2


def test_the_callers_script_is_not_run_again(small_images, tmp_path):
    """multiprocessing's spawn would import this unguarded script once per worker."""
    script = tmp_path / "unguarded.py"
    script.write_text(textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(Path(__file__).resolve().parents[3])!r})
        print("script body ran", flush=True)
        from workbench.core.data.decode_processes import decode_in_processes
        paths = {[str(p) for p in small_images]!r}
        pixels, sizes, problems = decode_in_processes(paths, 8, 2)
        print("decoded", len(pixels), sorted(problems), flush=True)
    """))
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("script body ran") == 1
    assert f"decoded {len(small_images)} [5, 11, 17]" in proc.stdout
