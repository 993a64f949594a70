"""A run directory as the training child leaves it, written by hand: for tests of listing, drawing and access."""
from __future__ import annotations

import json
import time
from pathlib import Path

from core.config import DEFAULT_MODEL


def fake_run(root: Path, run_id: str, owner: str, events: list[dict], state: str) -> Path:
    run_dir = root / run_id
    run_dir.mkdir(parents=True)
    (run_dir / "run.json").write_text(json.dumps({"run_id": run_id, "name": run_id, "owner": owner,
                                                  "created": time.time()}))
    (run_dir / "config.json").write_text(json.dumps({"model": DEFAULT_MODEL}))
    (run_dir / "status.json").write_text(json.dumps({"state": state, "pid": None, "updated": time.time()}))
    (run_dir / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))
    return run_dir
