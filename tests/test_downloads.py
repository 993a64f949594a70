"""Download folders: fresh per request, and folders older than a day removed on the next request."""
from __future__ import annotations

import os
import time
from pathlib import Path

from ui.downloads import KEEP_SECONDS, fresh_folder


def test_each_request_gets_its_own_empty_folder(tmp_path: Path) -> None:
    a, b = fresh_folder("zips", root=tmp_path), fresh_folder("zips", root=tmp_path)
    assert a != b and a.parent == b.parent == tmp_path / "textclf-zips"
    assert a.is_dir() and not any(a.iterdir())


def test_folders_older_than_a_day_are_removed_and_recent_ones_kept(tmp_path: Path) -> None:
    old = fresh_folder("predictions", root=tmp_path)
    (old / "predictions.csv").write_text("text,label\n")
    recent = fresh_folder("predictions", root=tmp_path)
    (recent / "predictions.csv").write_text("text,label\n")
    stale = time.time() - KEEP_SECONDS - 60
    os.utime(old, (stale, stale))
    new = fresh_folder("predictions", root=tmp_path)
    assert not old.exists()
    assert (recent / "predictions.csv").exists() and new.is_dir()
