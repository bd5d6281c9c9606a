"""Figure conventions shared by every chart: size, fonts, timestamps, PNG output.

Figures are built with `matplotlib.figure.Figure` and the Agg canvas directly, never
through pyplot, so rendering opens no window, keeps no global figure registry and does
not depend on the process's configured backend.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any, cast

import matplotlib as mpl
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

__all__ = [
    "DPI",
    "chart_style",
    "hangul_font",
    "new_figure",
    "save_png",
    "to_datetime64",
    "to_float",
]

DPI = 100
WIDTH_PX = 1200
HEIGHT_PX = 700
HANGUL_PROBE = "야놀자광고"
"""Hangul syllables a font must draw, each with its own glyph, to render the ad names."""

BUNDLED_FONTS_PACKAGE = "koreanize_matplotlib"
"""A dependency that ships Nanum Gothic (SIL Open Font License) as TTF files."""

_RC = {
    "font.size": 11,
    "axes.titlesize": 13,
    "axes.labelsize": 11,
    "figure.titlesize": 15,
    "axes.grid": True,
    "axes.grid.axis": "y",
    "axes.axisbelow": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
}


def new_figure(width_px: int = WIDTH_PX, height_px: int = HEIGHT_PX) -> Figure:
    """A blank figure of the given pixel size with constrained (tight) layout."""
    fig = Figure(figsize=(width_px / DPI, height_px / DPI), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def save_png(fig: Figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png", dpi=DPI, facecolor="white")
    return path


@contextmanager
def chart_style(*extra_families: str) -> Iterator[None]:
    """Style, and font fallbacks, in force while a chart is drawn and saved.

    Text is laid out when the figure is saved, so the context must cover `save_png` too.
    """
    rc = dict(_RC)
    if extra_families:
        rc["font.family"] = ["sans-serif", *extra_families]
    # matplotlib types the keys as a Literal of its known names; ours are plain strings.
    with mpl.rc_context(cast("dict[Any, Any]", rc)):
        yield


def _add_bundled_hangul_fonts(font_manager: Any) -> None:
    """Make the Nanum Gothic files of `BUNDLED_FONTS_PACKAGE` known to matplotlib.

    Only the files are used: importing that package would change matplotlib's global
    settings (and it imports `distutils`, gone from newer Pythons).
    """
    spec = importlib.util.find_spec(BUNDLED_FONTS_PACKAGE)
    for location in (spec.submodule_search_locations or []) if spec else []:
        for path in sorted(Path(location, "fonts").glob("NanumGothic*.ttf")):
            font_manager.fontManager.addfont(str(path))


@lru_cache(maxsize=1)
def hangul_font() -> str | None:
    """Family name of a font that has Hangul glyphs, or None.

    The Nanum Gothic that bdp depends on joins the installed fonts first. Checked
    by glyph coverage rather than by family name, so any Korean-capable font counts,
    whatever it is called. Fallback fonts map whole Unicode blocks to one placeholder
    glyph, so the probe syllables must also map to distinct glyphs.
    """
    from matplotlib import font_manager
    from matplotlib.ft2font import FT2Font

    _add_bundled_hangul_fonts(font_manager)
    wanted = [ord(char) for char in HANGUL_PROBE]
    for entry in font_manager.fontManager.ttflist:
        try:
            charmap = FT2Font(entry.fname).get_charmap()
        except (OSError, RuntimeError, ValueError):
            continue
        glyphs = {charmap.get(code) for code in wanted}
        if None not in glyphs and len(glyphs) == len(wanted):
            return entry.name
    return None


def to_datetime64(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """Timestamps as naive UTC `datetime64[ms]`; strings are parsed, zones converted to UTC."""
    if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        # A typed warehouse never returns text here; parsing keeps an untyped one usable.
        column = pc.replace_substring_regex(column, r"Z$", "").cast(pa.timestamp("ms"))
    if pa.types.is_timestamp(column.type) and column.type.tz is not None:
        # Zoned timestamps are stored as UTC instants; dropping the zone keeps them in UTC.
        column = column.cast(pa.timestamp(column.type.unit))
    values: np.ndarray = column.to_numpy(zero_copy_only=False).astype("datetime64[ms]")
    return values


def to_float(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """Numbers as float64 with NULL as NaN (decimals and integers alike)."""
    return np.asarray(column.cast(pa.float64()).to_numpy(zero_copy_only=False), dtype=float)
