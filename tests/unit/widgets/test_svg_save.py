"""view.save("fig.svg"): every registered widget draws its static snapshot as a standalone SVG in the kernel."""

import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

import pytest
import torch

import interp_widgets as iw
from interp_widgets.compute.steering.steer import Steer
from interp_widgets.models import toy_model
from interp_widgets.widgets._snapshot import visible
from interp_widgets.widgets.registry import WIDGETS

PROMPT = 'a <b>&amp; "x" salt and pepper'
SVG = "{http://www.w3.org/2000/svg}"
SHAPES = {"svg", "title", "rect", "text", "polyline", "line", "circle", "g", "path", "polygon"}


class _Words(HTMLParser):
    """The text a browser shows of a snapshot (style and script left out), whitespace removed."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.skip, self.out = 0, []

    def handle_starttag(self, tag, attrs):
        self.skip += tag in ("style", "script")

    def handle_endtag(self, tag):
        self.skip -= tag in ("style", "script")

    def handle_data(self, data):
        if not self.skip:
            self.out.append(re.sub(r"\s+", "", data))


def shown_text(snapshot):
    parser = _Words()
    parser.feed(snapshot)
    return "".join(parser.out)


def svg_text(root):
    return re.sub(r"\s+", "", "".join(el.text or "" for el in root.iter(f"{SVG}text"))).replace("\u2022", "")


@pytest.fixture(scope="module")
def views():
    model, sae = iw.load_model(), iw.load_sae("4x")
    bench = iw.explore(model, {"4x": sae}, prompt=PROMPT, index_tokens=64 * 20)
    built = {tab.name: bench.show(tab.label) for tab in bench.tabs_shown}
    training = iw.TrainingView()
    training.update([[{"step": 0, "mse": 1.0, "l0": 30.0}, {"step": 10, "mse": 0.5, "l0": 20.0}]])
    built.update(
        HistogramView=iw.HistogramView.from_values(torch.linspace(-1, 1, 200)),
        TrainingView=training,
        SuperpositionToy=iw.SuperpositionToy.from_settings(n_features=3, n_hidden=2, seeds=1, steps=60),
        PositionalEmbeddings=iw.PositionalEmbeddings.from_model(toy_model(seed=1), k=3),
        GraphView=iw.GraphView.from_model(model, iw.load_transcoders("embedded"), PROMPT),
        SteeringView=built.get("SteeringView") or iw.SteeringView.from_model(model, PROMPT, Steer(None, (sae, 0), 4.0), max_new_tokens=3),
    )
    return built


def test_the_views_cover_the_registry(views):
    assert sorted(views) == sorted(row.name for row in WIDGETS)


@pytest.mark.parametrize("name", [row.name for row in WIDGETS])
def test_every_widget_saves_a_valid_svg_of_its_snapshot(views, name, tmp_path):
    view = views[name]
    path = view.save(tmp_path / "fig.svg")
    root = ET.parse(path).getroot()
    assert root.tag == f"{SVG}svg" and float(root.get("width")) > 0 and float(root.get("height")) > 0
    tags = {el.tag.removeprefix(SVG) for el in root.iter()}
    assert tags <= SHAPES, f"not a picture of shapes and text: {tags - SHAPES}"  # e.g. no <b> from a token
    snapshot = view.to_static_html()
    assert svg_text(root).startswith(shown_text(snapshot)), "the SVG must say what the snapshot says, in order"
    for token in getattr(view, "tokens", [])[: 20]:
        if visible(token) in shown_text(snapshot):
            assert re.sub(r"\s+", "", visible(token)) in svg_text(root)
    if re.search(r'style="background|class="[pn][1-8]"', snapshot):
        assert root.find(f"{SVG}rect[@fill-opacity]") is not None, "coloured cells and tokens are SVG rectangles"


def test_token_strings_are_escaped_text(views, tmp_path):
    svg = views["TokenHighlights"].to_svg()
    assert "<b>" not in svg and "&lt;" in svg and "&amp;" in svg
    text = "".join(el.text or "" for el in ET.fromstring(svg).iter(f"{SVG}text"))
    assert "<" in text and "&" in text and '"' in text


def test_token_colours_and_legend_follow_the_values(views):
    view = views["TokenHighlights"]
    root = ET.fromstring(view.to_svg())
    coloured = view.to_static_html().count('class="p') + view.to_static_html().count('class="n')
    legend_steps = 9  # a sequential bar: 0 … 8 eighths
    rects = [r for r in root.iter(f"{SVG}rect") if r.get("fill-opacity")]
    assert len(rects) == coloured + legend_steps
    values = view.values[0].tolist()
    strongest = max(range(len(values)), key=lambda i: values[i])
    by_text = {el.text: el for el in root.iter(f"{SVG}text")}
    assert visible(view.tokens[strongest]) in by_text
    assert max(float(r.get("fill-opacity")) for r in rects[:coloured]) == pytest.approx(0.85, abs=1e-3)
    assert "colourscale" in svg_text(root)


def test_other_formats_are_refused_with_the_fix(views, tmp_path):
    with pytest.raises(iw.InterpWidgetsError, match=r"\.svg.*save button \(⤓"):
        views["AttentionView"].save(tmp_path / "fig.png")
    html_path = views["AttentionView"].save(tmp_path / "fig.html")
    assert html_path.read_text() == views["AttentionView"].to_static_html()
