"""The relief chart: a pure function from a verdict's figures to SVG (no I/O)."""

import re
import xml.etree.ElementTree as ET

from api.ui.chart import ChartFigures, Series, describe, relief_chart

SVG = "{http://www.w3.org/2000/svg}"
FIGURES = ChartFigures(
    title="Relief after the lidocaine block of 2026-11-20 14:30 +0000",
    threshold_pct=80,
    required_minutes=60,
    scale_max=10,
    series=(
        Series("L4-L5 left", 8, ((15, 87.5), (30, 87.5), (60, 87.5), (120, 37.5)), "positive"),
        Series("L4-L5 right", 6, ((15, 33.3), (30, -16.7)), "negative"),
    ),
)


def test_relief_chart_is_valid_svg_with_title_desc_and_one_line_per_target() -> None:
    svg = str(relief_chart(FIGURES))
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg" and root.get("role") == "img"
    assert root.find(f"{SVG}title").text == FIGURES.title
    desc = root.find(f"{SVG}desc").text
    assert "L4-L5 left (baseline 8/10, positive): 15 min 87.5%" in desc
    assert len(root.findall(f"{SVG}polyline")) == 2


def test_relief_chart_marks_threshold_required_minutes_and_baselines() -> None:
    svg = str(relief_chart(FIGURES))
    assert "threshold 80%" in svg and "required 60 min" in svg
    assert "L4-L5 left: baseline 8/10, positive" in svg and "L4-L5 right: baseline 6/10, negative" in svg
    assert ">-50%<" in svg  # negative relief (pain worse, CR-10) widens the axis instead of being cut off


def test_relief_chart_same_figures_same_svg_and_text_is_escaped() -> None:
    assert relief_chart(FIGURES) == relief_chart(FIGURES)
    hostile = ChartFigures("<script>x</script>", 50, 180, 100, (Series("<b>", None, (), "indeterminate"),))
    svg = str(relief_chart(hostile))
    assert "<script>" not in svg and "&lt;script&gt;" in svg and "no baseline" in svg
    ET.fromstring(svg)


def test_relief_chart_points_move_with_relief_and_time() -> None:
    svg = str(relief_chart(FIGURES))
    points = re.findall(r'<polyline points="([^"]+)"', svg)[0].split()
    xs = [float(p.split(",")[0]) for p in points]
    ys = [float(p.split(",")[1]) for p in points]
    assert xs == sorted(xs) and len(set(xs)) == 4
    assert ys[0] == ys[1] == ys[2] < ys[3]  # equal relief at the same height; less relief lower
    assert describe(FIGURES).startswith("Relief against the 80% threshold; 60 min required.")
