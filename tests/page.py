"""What the page's widgets send: the Train step's settings as Gradio passes them to a handler, in settings.NAMES
order (the defaults, unless chosen)."""
from __future__ import annotations

from typing import Any

from ui import settings


def setting_values(**chosen: Any) -> list[Any]:
    unknown = set(chosen) - set(settings.NAMES)
    assert not unknown, f"not settings: {unknown}"
    return [chosen.get(s.name, s.default) for s in settings.SETTINGS]
