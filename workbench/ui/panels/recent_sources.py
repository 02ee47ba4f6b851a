"""The Data panel's list of recently loaded sources, kept across restarts."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from ...core.atomic import atomic_write_bytes
from ...core.paths import user_config_dir

log = logging.getLogger(__name__)

MAX_RECENT = 10


class RecentSources:
    """Recently loaded sources (``{"source", "images"}``), most recent first, kept as JSON
    in the user config folder so they survive restarts."""

    def __init__(self, path: Path | None = None):
        self.path = path or user_config_dir() / "recent_sources.json"

    def load(self) -> list[dict]:
        try:
            items = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return []
        except (OSError, ValueError) as exc:  # a damaged list is not worth an error dialog
            log.warning("ignoring %s: %s", self.path, exc)
            return []
        return [{"source": str(i["source"]), "images": str(i.get("images", ""))}
                for i in items if isinstance(i, dict) and i.get("source")][:MAX_RECENT]

    def add(self, source: str, images: str = "") -> list[dict]:
        items = [i for i in self.load() if i["source"] != source]
        items = [{"source": source, "images": images}, *items][:MAX_RECENT]
        atomic_write_bytes(self.path, json.dumps(items, indent=1).encode("utf-8"))
        return items
