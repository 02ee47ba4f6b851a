#!/usr/bin/env python3
"""Build the built-in emoji data set (``builtin:emoji``) into ``assets/emoji/``.

Sources (Debian packages, needed only to rebuild; the result is committed):
  fonts-noto-color-emoji  /usr/share/fonts/truetype/noto/NotoColorEmoji.ttf
  unicode-data            /usr/share/unicode/emoji/emoji-test.txt
  unicode-cldr-core       /usr/share/unicode/cldr/common/annotations{,Derived}/en.xml

Steps: keep the fully-qualified emoji of emoji-test.txt without a skin-tone
modifier, in file order; caption each with its name and CLDR keywords; render
each with Noto Color Emoji (Pillow + libraqm, so ZWJ sequences and flags shape to
one glyph), crop to the ink, centre on a white square, resize to 64x64 (LANCZOS);
write a PNG sprite atlas, metadata.jsonl, README.md and LICENSES/.

The output is deterministic: no timestamps, fixed order, fixed PNG settings.
Uses only the standard library, numpy and Pillow. Usage:

    python -m workbench.tools.build_emoji_assets [--out assets/emoji]
"""

from __future__ import annotations

import argparse
import hashlib
import platform
import zlib
import importlib.util
import io
import json
import os
import re
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont, features

REPO = Path(__file__).resolve().parents[2]
FONT_PATH = Path("/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf")
EMOJI_TEST = Path("/usr/share/unicode/emoji/emoji-test.txt")
CLDR_DIR = Path("/usr/share/unicode/cldr/common")
ANNOTATIONS = CLDR_DIR / "annotations" / "en.xml"
ANNOTATIONS_DERIVED = CLDR_DIR / "annotationsDerived" / "en.xml"
PACKAGES = ("fonts-noto-color-emoji", "unicode-data", "unicode-cldr-core")
COPYRIGHT_FILES = {p: Path(f"/usr/share/doc/{p}/copyright") for p in PACKAGES}
APACHE_LICENSE = Path("/usr/share/common-licenses/Apache-2.0")

FONT_SIZE = 109  # Noto Color Emoji is a CBDT bitmap font: only its strike size works.
SKIN_TONES = range(0x1F3FB, 0x1F400)  # U+1F3FB..U+1F3FF, Fitzpatrick modifiers
ATLAS_COLUMNS = 32
PNG_COMPRESS_LEVEL = 9


def _load_format():
    """The reader module, loaded by file path so the workbench package is not imported."""
    path = REPO / "workbench" / "core" / "data" / "emoji_asset.py"
    spec = importlib.util.spec_from_file_location("_workbench_emoji_asset_format", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look the module up while exec runs
    spec.loader.exec_module(module)
    return module


FMT = _load_format()
SIZE = FMT.IMAGE_SIZE

# "1F600 ; fully-qualified # 😀 E1.0 grinning face"
LINE_RE = re.compile(r"^([0-9A-F ]+?)\s*;\s*([a-z-]+)\s*#\s*\S+\s+E\d+\.\d+\s+(.+?)\s*$")


def parse_emoji_test(path: Path) -> tuple[list[dict], str, int]:
    """Fully-qualified emoji without skin tones, in file order; also the Emoji version."""
    rows, group, subgroup, version, skin_skipped = [], None, None, "?", 0
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("# Version:"):
            version = line.split(":", 1)[1].strip()
        elif line.startswith("# group:"):
            group = line.split(":", 1)[1].strip()
        elif line.startswith("# subgroup:"):
            subgroup = line.split(":", 1)[1].strip()
        elif line and not line.startswith("#"):
            m = LINE_RE.match(line)
            if not m:
                raise ValueError(f"unparsed line in {path}: {line!r}")
            cps, status, name = m.group(1).split(), m.group(2), m.group(3)
            if status != "fully-qualified":
                continue
            if any(int(c, 16) in SKIN_TONES for c in cps) or "skin tone" in name:
                skin_skipped += 1
                continue
            rows.append({
                "emoji": "".join(chr(int(c, 16)) for c in cps),
                "codepoints": " ".join(cps),
                "name": name,
                "group": group,
                "subgroup": subgroup,
            })
    return rows, version, skin_skipped


def parse_annotations(path: Path) -> dict[str, list[str]]:
    """cp -> keywords (the non-tts annotations of a CLDR annotations file)."""
    out = {}
    for el in ET.parse(path).getroot().iter("annotation"):
        if el.get("type") != "tts" and el.text:
            out[el.get("cp")] = [k.strip() for k in el.text.split("|") if k.strip()]
    return out


def cldr_version() -> str:
    """CLDR release, from ``<!ATTLIST version cldrVersion CDATA #FIXED "41" >`` in ldml.dtd."""
    try:
        dtd = (CLDR_DIR / "dtd" / "ldml.dtd").read_text(encoding="utf-8")
    except OSError:
        return "?"
    m = re.search(r'ATTLIST version cldrVersion CDATA #FIXED "([^"]+)"', dtd)
    return m.group(1) if m else "?"


def keywords_for(emoji: str, name: str, sources: list[dict[str, list[str]]]) -> list[str] | None:
    """CLDR keywords without the name, or None when CLDR has no entry for the emoji."""
    for table in sources:  # annotations first, then annotationsDerived
        for key in (emoji, emoji.replace("\ufe0f", "")):
            if key in table:
                seen, out = {name.casefold()}, []
                for kw in table[key]:
                    if kw.casefold() not in seen:
                        seen.add(kw.casefold())
                        out.append(kw)
                return out
    return None


def render(font: ImageFont.FreeTypeFont, text: str, ref_advance: float) -> tuple[np.ndarray | None, str]:
    """A (SIZE, SIZE, 3) uint8 image on white, or None and the reason it was skipped."""
    if font.getlength(text) > 1.5 * ref_advance:
        return None, "not one glyph (advance wider than one emoji)"
    left, top, right, bottom = font.getbbox(text)
    pad = 16
    canvas_size = (right - left + 2 * pad, bottom - top + 2 * pad)
    origin = (pad - left, pad - top)
    # The alpha canvas gives the ink bounding box. The colours are drawn straight
    # onto white: ImageDraw pastes the glyph with its alpha as mask, so drawing on
    # a transparent canvas premultiplies the colours and compositing that onto
    # white afterwards would leave dark fringes.
    alpha = Image.new("RGBA", canvas_size, (0, 0, 0, 0))
    ImageDraw.Draw(alpha).text(origin, text, font=font, embedded_color=True)
    box = alpha.getchannel("A").getbbox()
    if box is None:
        return None, "nothing drawn (the font lacks it)"
    w, h = box[2] - box[0], box[3] - box[1]
    if w > 1.25 * ref_advance:
        return None, f"not one glyph (ink {w}x{h})"
    white = Image.new("RGB", canvas_size, (255, 255, 255))
    ImageDraw.Draw(white).text(origin, text, font=font, embedded_color=True)
    side = max(w, h)
    square = Image.new("RGB", (side, side), (255, 255, 255))
    square.paste(white.crop(box), ((side - w) // 2, (side - h) // 2))
    small = square.resize((SIZE, SIZE), Image.Resampling.LANCZOS)
    return np.asarray(small, dtype=np.uint8), ""


def find_duplicates(images: np.ndarray, rows: list[dict]) -> list[list[str]]:
    """Names of the sets of byte-identical images, in file order."""
    by_hash: dict[str, list[str]] = {}
    for img, row in zip(images, rows):
        by_hash.setdefault(hashlib.sha256(img.tobytes()).hexdigest(), []).append(row["name"])
    return [names for names in by_hash.values() if len(names) > 1]


def atlas_png(images: np.ndarray, columns: int) -> bytes:
    """Row-major grid of (N, S, S, 3) cells, padded with white cells, as PNG bytes."""
    n = len(images)
    rows = -(-n // columns)
    grid = np.full((rows * columns, SIZE, SIZE, 3), 255, dtype=np.uint8)
    grid[:n] = images
    grid = grid.reshape(rows, columns, SIZE, SIZE, 3).transpose(0, 2, 1, 3, 4)
    grid = np.ascontiguousarray(grid).reshape(rows * SIZE, columns * SIZE, 3)
    buf = io.BytesIO()
    Image.fromarray(grid, "RGB").save(buf, format="PNG", compress_level=PNG_COMPRESS_LEVEL)
    return buf.getvalue()


def write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def package_versions() -> dict[str, str]:
    out = {}
    for pkg in PACKAGES:
        try:
            res = subprocess.run(["dpkg-query", "-W", "-f=${Version}", pkg],
                                 capture_output=True, text=True, check=True)
            out[pkg] = res.stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            out[pkg] = "unknown"
    return out


def dep5_license(copyright_text: str, name: str) -> str:
    """The full text of the ``License: name`` paragraph of a Debian (DEP-5) copyright file."""
    for stanza in re.split(r"\n\s*\n", copyright_text):
        lines = stanza.strip("\n").splitlines()
        for i, line in enumerate(lines):
            if line.startswith("License:") and line.split(":", 1)[1].strip() == name:
                body = []
                for cont in lines[i + 1:]:
                    if not cont.startswith((" ", "\t")):
                        break
                    body.append("" if cont.strip() == "." else cont[1:])
                if body:  # skip the bare "License: name" field of a Files: stanza
                    return "\n".join(body).strip("\n") + "\n"
    raise ValueError(f"licence {name!r} not found")


def licence_files() -> dict[str, bytes]:
    noto = COPYRIGHT_FILES["fonts-noto-color-emoji"].read_text(encoding="utf-8")
    cldr = COPYRIGHT_FILES["unicode-cldr-core"].read_text(encoding="utf-8")
    files = {
        "Apache-2.0.txt": APACHE_LICENSE.read_bytes(),
        "OFL-1.1.txt": (
            "Noto Color Emoji font: Copyright 2013-2017 Google Inc.; Arjen Nienhuis\n"
            "(from /usr/share/doc/fonts-noto-color-emoji/copyright)\n\n"
            + dep5_license(noto, "SIL-1.1")
        ).encode("utf-8"),
        "Unicode-DFS-2016.txt": (
            "Unicode data (emoji-test.txt) and CLDR annotations: Copyright 1991-2022 Unicode, Inc.\n"
            "(from /usr/share/doc/unicode-cldr-core/copyright)\n\n"
            + dep5_license(cldr, "Unicode-DFS-2016")
        ).encode("utf-8"),
    }
    for pkg, path in COPYRIGHT_FILES.items():
        files[f"debian-copyright/{pkg}.copyright"] = path.read_bytes()
    return files


def readme(n: int, groups: Counter, skipped: list[str], versions: dict[str, str],
           emoji_version: str, cldr: str, no_keywords: int, not_in_cldr: list[str],
           skin_skipped: int, duplicates: list[list[str]]) -> str:
    group_lines = "\n".join(f"| {g} | {c} |" for g, c in groups.items())
    pkg_lines = "\n".join(f"- `{p}` {v}" for p, v in versions.items())
    skip_text = ("\n".join(f"- {s}" for s in skipped)) if skipped else "none"
    dup_text = "\n".join(f"- {' = '.join(d)}" for d in duplicates) or "none"
    tools = (f"Python {platform.python_version()}, numpy {np.__version__}, Pillow {Image.__version__} "
             f"(FreeType {features.version('freetype2')}, libraqm {features.version('raqm')}), "
             f"zlib {zlib.ZLIB_VERSION}")
    return f"""# Built-in emoji data set (`builtin:emoji`)

{n} Unicode emoji as 64x64 RGB images on white, each captioned with its Unicode
name and CLDR English keywords and labelled with its Unicode emoji group and subgroup.
Read it with `workbench.core.data.emoji_asset.load_emoji_asset()`.

## Files
- `{FMT.IMAGES_FILE}`: a PNG sprite atlas, {ATLAS_COLUMNS} cells of {SIZE}x{SIZE} per row,
  row-major in the order of `{FMT.METADATA_FILE}`; cells after the last image are white.
- `{FMT.METADATA_FILE}`: UTF-8, one JSON object per image with the keys
  {", ".join(f"`{k}`" for k in FMT.METADATA_KEYS)}.
  `caption` is `"name: keyword, keyword, ..."` (just the name when there are no keywords).
- `LICENSES/`: the licence texts of the sources (see below).

## Counts
{n} images in {len(groups)} groups:

| group | images |
| --- | --- |
{group_lines}

{no_keywords} captions are the name alone: for {len(not_in_cldr)} emoji CLDR {cldr} has no entry (it
predates them: {", ".join(not_in_cldr) or "none"}); for the others the only CLDR keyword is the name.

Skipped because they did not render as one glyph: {skip_text}

Identical images (Noto draws these with the same artwork), each set with different captions:
{dup_text}

## How it was built
`{FMT.BUILD_COMMAND}` (standard library, numpy, Pillow with libraqm), from the Debian packages

{pkg_lines}

1. `emoji-test.txt` (Emoji {emoji_version}): the `fully-qualified` entries, in file order, without a
   skin-tone modifier (U+1F3FB..U+1F3FF; {skin_skipped} entries left out); name from the comment,
   group and subgroup from the `# group:` / `# subgroup:` lines.
2. Keywords from CLDR {cldr} `annotations/en.xml`, falling back to `annotationsDerived/en.xml`
   (looked up as is and without U+FE0F; `type="tts"` entries ignored), without any keyword equal
   to the name.
3. Each emoji drawn with `NotoColorEmoji.ttf` at size {FONT_SIZE} (its bitmap strike), cropped to
   its ink, centred on a white square and resized to {SIZE}x{SIZE} with LANCZOS.

Built with {tools}. Rebuilding with the same package and library versions gives
byte-identical files.

## Licences
- Emoji images: derived from the Noto Emoji artwork, Copyright 2013-2017 Google Inc.,
  Apache License 2.0 (`LICENSES/Apache-2.0.txt`); the font `NotoColorEmoji.ttf` itself is under the
  SIL Open Font License 1.1 (`LICENSES/OFL-1.1.txt`). The font is not redistributed here.
- Names, groups (Unicode emoji data) and keywords (Unicode CLDR): Copyright 1991-2022 Unicode, Inc.,
  Unicode License (`LICENSES/Unicode-DFS-2016.txt`). The files were modified: extracted, filtered
  and reformatted into `{FMT.METADATA_FILE}`.
- `LICENSES/debian-copyright/` has the Debian copyright files of the three packages as shipped.
"""


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=REPO / "assets" / "emoji")
    args = ap.parse_args(argv)

    for path in (FONT_PATH, EMOJI_TEST, ANNOTATIONS, ANNOTATIONS_DERIVED, APACHE_LICENSE,
                 *COPYRIGHT_FILES.values()):
        if not path.is_file():
            sys.exit(f"missing {path}: apt-get install {' '.join(PACKAGES)}")
    if not features.check("raqm"):
        sys.exit("Pillow lacks libraqm: ZWJ sequences and flags would not shape to one glyph")

    entries, emoji_version, skin_skipped = parse_emoji_test(EMOJI_TEST)
    sources = [parse_annotations(ANNOTATIONS), parse_annotations(ANNOTATIONS_DERIVED)]
    font = ImageFont.truetype(str(FONT_PATH), FONT_SIZE, layout_engine=ImageFont.Layout.RAQM)
    ref_advance = font.getlength("\U0001F600")

    images, rows, skipped, not_in_cldr = [], [], [], []
    for e in entries:
        img, why = render(font, e["emoji"], ref_advance)
        if img is None:
            skipped.append(f"U+{e['codepoints'].replace(' ', ' U+')} {e['name']}: {why}")
            print("skipped:", skipped[-1])
            continue
        kws = keywords_for(e["emoji"], e["name"], sources)
        if kws is None:
            not_in_cldr.append(e["name"])
            kws = []
        caption = f"{e['name']}: {', '.join(kws)}" if kws else e["name"]
        row = {"emoji": e["emoji"], "codepoints": e["codepoints"], "name": e["name"],
               "keywords": kws, "caption": caption, "group": e["group"], "subgroup": e["subgroup"]}
        rows.append({k: row[k] for k in FMT.METADATA_KEYS})
        images.append(img)

    stack = np.stack(images)
    groups = Counter(r["group"] for r in rows)
    no_keywords = sum(1 for r in rows if not r["keywords"])
    out: Path = args.out
    write_atomic(out / FMT.IMAGES_FILE, atlas_png(stack, ATLAS_COLUMNS))
    meta = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    write_atomic(out / FMT.METADATA_FILE, meta.encode("utf-8"))
    for rel, data in licence_files().items():
        write_atomic(out / "LICENSES" / rel, data)
    text = readme(len(rows), groups, skipped, package_versions(), emoji_version, cldr_version(),
                  no_keywords, not_in_cldr, skin_skipped, find_duplicates(stack, rows))
    write_atomic(out / "README.md", text.encode("utf-8"))

    print(f"{len(entries)} candidates, {len(rows)} images, {len(skipped)} skipped, "
          f"{no_keywords} without keywords ({len(not_in_cldr)} not in CLDR) -> {out}")
    for g, c in groups.items():
        print(f"  {c:5d}  {g}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
