"""Folders for files the user downloads (prediction tables, model zips): one fresh folder per request, so two
downloads never collide, and folders older than a day removed, so a long-running app does not fill the disk."""
from __future__ import annotations

import shutil
import tempfile
import time
import uuid
from pathlib import Path

KEEP_SECONDS = 24 * 3600


def fresh_folder(kind: str, root: Path | None = None) -> Path:
    """A new empty folder under <temp>/textclf-<kind>/ (Gradio may serve files from the temp dir)."""
    base = (root or Path(tempfile.gettempdir())) / f"textclf-{kind}"
    base.mkdir(parents=True, exist_ok=True)
    cutoff = time.time() - KEEP_SECONDS
    for old in base.iterdir():
        try:
            if old.is_dir() and old.stat().st_mtime < cutoff:
                shutil.rmtree(old, ignore_errors=True)
        except OSError:  # removed by a concurrent request
            pass
    folder = base / uuid.uuid4().hex
    folder.mkdir()
    return folder
