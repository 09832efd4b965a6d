"""Stacked bar charts as inline SVG, drawn on the server: no JavaScript library, no CDN.

Every bar carries a ``<title>`` (hover text and screen readers) and the chart is labelled;
the page shows the same numbers in a table next to it.
"""

from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

# Colour-blind-safe palette (Okabe-Ito).
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442")


@dataclass(frozen=True)
class Series:
    """One stacked layer: a name and one value per category."""

    name: str
    values: Sequence[float]


def stacked_bars(
    *,
    label: str,
    categories: Sequence[str],
    series: Sequence[Series],
    unit: str = "",
    width: int = 720,
    height: int = 240,
) -> Markup:
    """An SVG chart of ``series`` stacked per category, with a legend."""
    top, bottom, left = 16, 40, 64
    plot_height = height - top - bottom
    plot_width = width - left - 8
    totals = [sum(s.values[i] for s in series) for i in range(len(categories))]
    highest = max(totals, default=0.0)
    peak = highest or 1.0
    slot = plot_width / max(len(categories), 1)
    bar = max(min(slot * 0.7, 48.0), 2.0)
    parts = [
        f'<svg class="chart" role="img" aria-label="{escape(label)}" '
        f'viewBox="0 0 {width} {height + 24 * ((len(series) + 3) // 4)}" '
        f'xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(label)}</title>",
        f'<line x1="{left}" y1="{top + plot_height}" x2="{width - 8}" '
        f'y2="{top + plot_height}" class="axis"/>',
        f'<text x="{left - 6}" y="{top + 4}" text-anchor="end" class="tick">'
        f"{escape(_short(highest, unit))}</text>",
        f'<text x="{left - 6}" y="{top + plot_height}" text-anchor="end" class="tick">0</text>',
    ]
    step = max(1, len(categories) // 12)
    for i, category in enumerate(categories):
        x = left + i * slot + (slot - bar) / 2
        y = float(top + plot_height)
        for n, layer in enumerate(series):
            value = layer.values[i]
            if value <= 0:
                continue
            h = value / peak * plot_height
            y -= h
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{h:.1f}" '
                f'fill="{PALETTE[n % len(PALETTE)]}"><title>{escape(category)} · '
                f"{escape(layer.name)}: {escape(_full(value, unit))}</title></rect>"
            )
        if i % step == 0:
            parts.append(
                f'<text x="{x + bar / 2:.1f}" y="{top + plot_height + 16}" '
                f'text-anchor="middle" class="tick">{escape(category)}</text>'
            )
    for n, layer in enumerate(series):
        lx = left + (n % 4) * 170
        ly = height + 24 * (n // 4)
        parts.append(
            f'<rect x="{lx}" y="{ly - 10}" width="12" height="12" '
            f'fill="{PALETTE[n % len(PALETTE)]}"/>'
            f'<text x="{lx + 18}" y="{ly}" class="legend">{escape(layer.name)}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every interpolated text is escaped above


def _short(value: float, unit: str) -> str:
    if unit == "$":
        return f"${value:,.2f}"
    for size, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if value >= size:
            return f"{value / size:.1f}{suffix}"
    return f"{value:,.0f}"


def _full(value: float, unit: str) -> str:
    return f"${value:,.6f}" if unit == "$" else f"{value:,.0f} tokens"
