"""Server-drawn matplotlib charts: fonts for the labels users write, in whatever script they write them.

The charts are rendered to images on the server, so a browser's own fonts never help: a glyph missing here is an
empty box for every user. Matplotlib (>= 3.6) falls back glyph by glyph along `font.family`, so the list names the
usual fonts of other scripts that are installed; a label no installed font can draw is shown by its position.
"""
from __future__ import annotations

import unicodedata
from functools import lru_cache
from typing import Any, Sequence

# Installed by the Space's packages.txt (fonts-noto-cjk) or commonly present on desktops.
FALLBACK_FONTS = ("Noto Sans CJK JP", "Noto Sans CJK SC", "Noto Sans", "Noto Sans Arabic", "WenQuanYi Zen Hei",
                  "Droid Sans Fallback", "Arial Unicode MS", "Microsoft YaHei", "PingFang SC", "Hiragino Sans",
                  "Malgun Gothic", "Segoe UI")


@lru_cache(maxsize=1)
def _fonts() -> list[Any]:
    """The installed fonts of the fallback chain, DejaVu Sans first (matplotlib's own), set as the default family."""
    import matplotlib

    matplotlib.use("Agg", force=False)  # no display on a server
    from matplotlib import font_manager, ft2font

    installed = {f.name: f.fname for f in font_manager.fontManager.ttflist}
    families = ["DejaVu Sans"] + [name for name in FALLBACK_FONTS if name in installed]
    matplotlib.rcParams["font.family"] = families
    paths = [font_manager.findfont("DejaVu Sans")] + [installed[name] for name in families[1:]]
    return [ft2font.FT2Font(path) for path in paths]


def figure(**kwargs: Any) -> Any:
    """A matplotlib Figure drawn with the fallback fonts (pyplot is never used: no global figure state)."""
    _fonts()
    from matplotlib.figure import Figure

    return Figure(**kwargs)


def drawable(name: str) -> bool:
    """Whether the installed fonts have a glyph for every visible character of `name`."""
    fonts = _fonts()
    invisible = ("Cc", "Cf", "Zs", "Zl", "Zp")  # controls, direction marks, spaces: nothing to draw
    return all(unicodedata.category(ch) in invisible or any(font.get_char_index(ord(ch)) for font in fonts)
               for ch in name)


def short_label(name: str, limit: int = 18) -> str:
    """A label cut to fit a chart's axis in the middle, so names that share a long prefix stay told apart."""
    if len(name) <= limit:
        return name
    keep = limit - 1
    return name[: (keep + 1) // 2] + "…" + name[len(name) - keep // 2:]


def axis_labels(names: Sequence[str]) -> list[str]:
    """Names for a chart's axis: shortened, and 'label #n' (its place in the label list) for one the fonts cannot
    draw, so two such labels never show as the same row of empty boxes."""
    return [short_label(name) if drawable(name) else f"label #{i + 1}" for i, name in enumerate(names)]
