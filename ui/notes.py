"""One-line notes above a step's content: the run on screen is missing or not finished, a model is ready, why Start is
refused. The text is escaped here, once (quotes too: an id or attribute never breaks)."""
from __future__ import annotations

import html

# "" is plain text; the others are the boxes and sizes ui/theme.py styles as .tc-<kind> (a test checks each exists).
KINDS = ("", "note", "ok", "warn", "blocked", "ready", "estimate")


def note(text: str, kind: str = "", elem_id: str = "") -> str:
    if kind not in KINDS:
        raise ValueError(f"no style for a note of kind {kind!r}: one of {KINDS}")
    attributes = (f' class="tc-{kind}"' if kind else "") + (f' id="{elem_id}"' if elem_id else "")
    return f"<div{attributes}>{html.escape(text or '')}</div>"
