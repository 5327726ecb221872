"""Charts as inline SVG, drawn by pygal.

pygal is pure Python and writes SVG itself (no Pillow, unlike matplotlib). Its
only external resource is an optional tooltip script loaded from the web; it is
switched off here (``js=[]``) and the inline settings script that goes with it
removed, so a chart is a self-contained ``<svg>`` element that needs no network
and no script to render.
"""

from __future__ import annotations

import re

import pygal
from pygal.style import DefaultStyle

_SCRIPT = re.compile(r"<script\b.*?</script>", re.S)
_STYLE = DefaultStyle(font_family="DejaVu Sans, Liberation Sans, Arial, sans-serif", background="white",
                      plot_background="white")


def _config(**extra) -> dict:
    return {"js": [], "disable_xml_declaration": True, "style": _STYLE, "width": 900, "height": 360,
            "legend_at_bottom": True, "no_data_text": "no data yet", "print_values": False,
            "truncate_label": -1, **extra}


def _svg(chart) -> str:
    # pygal always adds a small inline script holding its tooltip settings; with the tooltip
    # script off it does nothing, and the report's page allows no script at all
    return _SCRIPT.sub("", chart.render(is_unicode=True))


def stacked_bars(title: str, labels: list[str], series: dict[str, list[int]], *, x_title: str = "",
                 y_title: str = "") -> str:
    chart = pygal.StackedBar(**_config(title=title, x_title=x_title, y_title=y_title,
                                       x_label_rotation=45 if len(labels) > 10 else 0,
                                       show_minor_x_labels=len(labels) <= 31,
                                       x_labels_major_every=max(1, len(labels) // 15)))
    chart.x_labels = labels
    for name, values in series.items():
        chart.add(name, values)
    return _svg(chart)


def horizontal_bars(title: str, counts: dict[str, int], *, series: str = "summaries") -> str:
    height = max(200, 60 + 22 * len(counts))
    chart = pygal.HorizontalBar(**_config(title=title, height=height, show_legend=False))
    chart.x_labels = list(counts)
    chart.add(series, list(counts.values()))
    return _svg(chart)


def bars(title: str, counts: dict[str, int], *, y_title: str = "") -> str:
    chart = pygal.Bar(**_config(title=title, y_title=y_title, show_legend=False,
                                x_label_rotation=30 if len(counts) > 6 else 0))
    chart.x_labels = list(counts)
    chart.add(y_title or "count", list(counts.values()))
    return _svg(chart)


def dots(title: str, columns: list[str], rows: dict[str, list[int | None]]) -> str:
    """One line of dots per row name, one column per label: a dot's size is its value."""
    height = max(220, 90 + 26 * len(rows))
    chart = pygal.Dot(**_config(title=title, height=height, show_legend=False, x_label_rotation=45,
                                x_labels_major_every=max(1, len(columns) // 15),
                                show_minor_x_labels=len(columns) <= 31))
    chart.x_labels = columns
    for name, values in rows.items():
        chart.add(name, values)
    return _svg(chart)
