"""The server-drawn charts: parsed as XML, they carry a title and a description, axes with ticks and units, a
legend only when there is more than one series, every value where it belongs, and the same numbers as a table."""

import xml.etree.ElementTree as ET

import pytest

from annotation.charts import BOTTOM, HEIGHT, LEFT, RIGHT, TOP, WIDTH, Frame, Series, bar_chart, line_chart, nice_ticks

SVG = "{http://www.w3.org/2000/svg}"
DAYS = ["Dec 1", "Dec 2", "Dec 3", "Dec 4"]
PLOT_BOTTOM = HEIGHT - BOTTOM
PLOT_HEIGHT = HEIGHT - TOP - BOTTOM
BAND = (WIDTH - LEFT - RIGHT) / len(DAYS)


def parse(chart) -> ET.Element:
    return ET.fromstring(str(chart.svg))  # noqa: S314 - markup the test itself just drew


def texts(root: ET.Element, css: str) -> list[str]:
    return [t.text or "" for t in root.iter(f"{SVG}text") if css in t.get("class", "").split()]


def of_class(root: ET.Element, tag: str, css: str) -> list[ET.Element]:
    return [e for e in root.iter(f"{SVG}{tag}") if css in e.get("class", "").split()]


@pytest.mark.parametrize(
    ("top", "whole", "ticks"),
    [
        (7, True, [0, 2, 4, 6, 8]),
        (10, True, [0, 2, 4, 6, 8, 10]),
        (3, True, [0, 1, 2, 3]),
        (1.0, False, [0, 0.2, 0.4, 0.6, 0.8, 1.0]),
        (0.3, False, [0, 0.1, 0.2, 0.3]),
        (1234, True, [0, 500, 1000, 1500]),
        (0, True, [0, 1]),
    ],
)
def test_ticks_are_round_numbers_from_zero_past_the_top(top, whole, ticks):
    assert nice_ticks(top, whole=whole) == ticks


def test_a_line_chart_names_itself_and_draws_its_axes():
    chart = line_chart(
        Frame("done", "Tasks done", "3 of 8 tasks done by Dec 4.", DAYS, "Day (UTC)", "tasks (cumulative)"),
        [Series("tasks done", [0, 1, 3, 3])],
        y_top=8,
        area=True,
    )
    root = parse(chart)

    assert root.get("role") == "img"
    assert (root.get("aria-labelledby"), root.get("aria-describedby")) == ("done-title", "done-desc")
    assert root.find(f"{SVG}title").text == "Tasks done"
    assert root.find(f"{SVG}desc").text == "3 of 8 tasks done by Dec 4."
    assert texts(root, "chart-title") == ["Tasks done"]
    assert texts(root, "chart-unit") == ["tasks (cumulative)", "Day (UTC)"]
    assert texts(root, "chart-tick") == ["0", "2", "4", "6", "8", *DAYS]
    assert of_class(root, "g", "chart-legend") == []  # one series: its name is the title's
    assert len(of_class(root, "polygon", "chart-area")) == 1
    # The values sit on the scale 0..8: a point per day at the middle of its band.
    points = [(float(c.get("cx")), float(c.get("cy"))) for c in of_class(root, "circle", "chart-point")]
    assert points == [
        (round(LEFT + BAND * (i + 0.5), 1), round(TOP + PLOT_HEIGHT * (1 - v / 8), 1))
        for i, v in enumerate([0, 1, 3, 3])
    ]
    assert [c.find(f"{SVG}title").text for c in of_class(root, "circle", "chart-point")][2] == (
        "tasks done, Dec 3: 3 tasks (cumulative)"
    )
    assert chart.columns == ["Day (UTC)", "tasks done"]
    assert chart.rows == [["Dec 1", "0"], ["Dec 2", "1"], ["Dec 3", "3"], ["Dec 4", "3"]]


def test_a_missing_value_breaks_the_line_and_several_series_get_a_legend():
    chart = line_chart(
        Frame("agreement", "Agreement per field", "", DAYS, "Day (UTC)", "agreement (0 to 1)"),
        [Series("label", [1.0, None, 0.5, 0.75]), Series("score", [None, 0.25, None, None])],
        y_top=1.0,
        whole=False,
    )
    root = parse(chart)

    assert texts(root, "chart-legend-label") == ["label", "score"]
    swatches = of_class(root, "rect", "chart-swatch")
    assert [s.get("class") for s in swatches] == ["chart-swatch chart-series-0", "chart-swatch chart-series-1"]
    lines = of_class(root, "polyline", "chart-line")
    assert [(line.get("class"), len(line.get("points").split())) for line in lines] == [
        ("chart-line chart-series-0", 1),
        ("chart-line chart-series-0", 2),
        ("chart-line chart-series-1", 1),
    ]
    assert texts(root, "chart-tick")[:6] == ["0.0", "0.2", "0.4", "0.6", "0.8", "1.0"]
    assert chart.rows[1] == ["Dec 2", "\N{EN DASH}", "0.25"]


def test_a_stacked_bar_chart_puts_each_value_on_the_one_below():
    chart = bar_chart(
        Frame("reviews", "Review decisions per day", "", DAYS, "Day (UTC)", "decisions per day"),
        [Series("accepted", [2, 0, 1, 0]), Series("rejected", [1, 0, 0, 0])],
    )
    root = parse(chart)

    bars = of_class(root, "rect", "chart-bar")
    scale = PLOT_HEIGHT / 3  # the ticks run 0, 1, 2, 3
    assert [(b.get("class").split()[-1], float(b.get("y")), float(b.get("height"))) for b in bars] == [
        ("chart-series-0", round(PLOT_BOTTOM - 2 * scale, 1), round(2 * scale, 1)),
        ("chart-series-1", round(PLOT_BOTTOM - 3 * scale, 1), round(scale, 1)),
        ("chart-series-0", round(PLOT_BOTTOM - scale, 1), round(scale, 1)),
    ]
    assert [b.find(f"{SVG}title").text for b in bars] == [
        "accepted, Dec 1: 2 decisions per day",
        "rejected, Dec 1: 1 decisions per day",
        "accepted, Dec 3: 1 decisions per day",
    ]
    assert texts(root, "chart-legend-label") == ["accepted", "rejected"]


def test_only_every_few_days_are_labelled_when_there_are_many():
    days = [f"Day {n}" for n in range(30)]
    chart = bar_chart(Frame("many", "Many", "", days, "Day (UTC)", "n"), [Series("n", [1] * 30)])
    root = parse(chart)

    assert [t for t in texts(root, "chart-tick") if t.startswith("Day")] == [f"Day {n}" for n in range(0, 30, 4)]
    assert len(of_class(root, "line", "chart-tick-mark")) == 30
    assert len(chart.rows) == 30


def test_labels_are_text_never_markup():
    chart = bar_chart(
        Frame("x", "<script>alert(1)</script>", "a & b", ["<b>"], "Day", "n"), [Series("<i>", [1]), Series("two", [1])]
    )
    root = parse(chart)

    assert "<script>" not in str(chart.svg)
    assert root.find(f"{SVG}title").text == "<script>alert(1)</script>"
    assert texts(root, "chart-legend-label")[0] == "<i>"
