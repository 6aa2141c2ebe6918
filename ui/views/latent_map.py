"""Latent map: every test digit as a dot where the encoder puts it. Click a dot to see the digit; on
a 2-D model, click empty space to decode that spot (in the visitor's browser, once its decoder is
ready: ui/drawing.py). 32-D models are flattened by PCA or UMAP."""

from __future__ import annotations

import json
import threading
from collections import OrderedDict

import gradio as gr
import torch
from gradio.components.plot import PlotData

from vae_core import data, latent

from ..drawing import DigitCanvas, decoder_url, picture_value
from ..common import (CODE_LIMIT, check_number, digits_image, get_model, log, map_figure, need_test_images, no_data,
                      picture, refuse)
from ..page import on_phone_show
from ..state import CTX

TITLE, ID = "Latent map", "map"
CSS = """
#map-click, #map-click-btn, #map-spot-btn { display: none !important; }
/* The map takes its height from here (its figure has none): tall on a screen, and on a phone its width plus
   the room of its legend and title, so that a square 2-D plane leaves no empty bands. */
#latent-map [data-testid="plotly"] { height: min(700px, calc(100vw + 70px)); }
@media (max-width: 640px) {
  /* The clicked digit just below the map, not two screens below (after the map's notes and controls), nor
     above it, where its pictures appearing on the first tap pushed the map down under the finger. */
  #map-row { flex-direction: column; }
  #map-row > * { width: 100%; }
  #map-column { display: contents; }
  #map-note { order: 2; }
  #click-heading, #click-result, #click-text { order: -1; }
}
"""
UMAP_POLL_SECONDS = 2.0  # how often an open page looks whether its background UMAP is ready
CODE_DIMS_SHOWN = 6  # dimensions of the clicked digit's code written out
OPENS_ON = ("UMAP", True)  # the map's first choices: flattened by UMAP; decoded digits under a 2-D map
MAPS_KEPT = 24  # main maps kept made (about 0.5 MB each)
_maps: OrderedDict = OrderedDict()
_maps_lock = threading.Lock()

NOTE_2D = ("**Every dot is one handwritten digit**, placed where the model's two numbers for it put it: "
           "digits that look alike land close together. The faint digits underneath are what the model "
           "draws at each spot; a dashed outline, in a digit's colour, holds most of that digit's dots. Click a "
           "dot to see its digit, or click anywhere in the square to see what the model draws there.")
NOTE_ND = ("**Every dot is one real handwritten digit.** This model describes each digit with {d} numbers; "
           "the map squeezes those {d} down to two (with PCA, or UMAP, which keeps neighbours together), so "
           "the space *between* dots means nothing here: use the 2-number model for that. Click a dot to "
           "see the digit and what the model makes of it.")


def render(page) -> None:
    status = gr.Markdown(elem_classes="note")
    with gr.Row(elem_id="map-row"):
        with gr.Column(scale=3, elem_id="map-column"):
            plot = gr.Plot(elem_id="latent-map", show_label=False)
            note = gr.Markdown(elem_classes="note", elem_id="map-note")
        # The map's controls sit beside it, not in a row above it: at 1280x800 the map starts higher.
        with gr.Column(scale=1, min_width=220, elem_id="click-panel"):
            # UMAP first: it shows ten clusters where PCA shows a cloud, and every shipped model's is ready.
            projection = gr.Radio(["PCA", "UMAP"], value=OPENS_ON[0], label="How to flatten the code to 2 numbers",
                                  info="PCA keeps the biggest differences; UMAP keeps neighbours together")
            manifold = gr.Checkbox(label="Show decoded digits under a 2-D map", value=OPENS_ON[1])
            gr.Markdown("**Clicked point**", elem_id="click-heading")
            # Hidden until the first click, so the page opens on no empty frames. Side by side, so that on a
            # phone the pair stays small enough to sit just below the map. Full screen is their one button
            # (for a projector): with download and share beside it, the labels read "test digi" and "decode".
            with gr.Row(elem_id="click-result"):
                clicked = digits_image(label="test digit", elem_id="click-digit", height=150,
                                       visible=False, min_width=100, buttons=["fullscreen"])
                with gr.Column(min_width=100):
                    decoded = DigitCanvas("decoded", "click-decoded", height=150)
            click_text = gr.Markdown("Click a dot on the map.", elem_id="click-text")
    click_box = gr.Textbox(elem_id="map-click", show_label=False, container=False)
    click_btn = gr.Button(elem_id="map-click-btn", elem_classes="hidden-bridge")
    spot_btn = gr.Button(elem_id="map-spot-btn", elem_classes="hidden-bridge")
    gr.HTML("", js_on_load=CLICKS, elem_id="map-clicks", padding=False)
    umap_timer = gr.Timer(UMAP_POLL_SECONDS, active=False)  # ticks only while a UMAP is awaited

    map_inputs, map_outputs = [page.model, projection, manifold], [plot, note, status, umap_timer]
    page.on_show(for_model, map_inputs, [projection, manifold, clicked, decoded, click_text, *map_outputs])
    projection.input(show_map, map_inputs, map_outputs, api_name="latent_map")
    manifold.input(show_map, map_inputs, map_outputs, api_name=False)
    umap_timer.tick(poll_umap, map_inputs, [plot, status, umap_timer], api_name=False, show_progress="hidden")
    click_btn.click(map_click, [page.model, click_box, decoded], [clicked, decoded, click_text], api_name="map_click",
                    show_progress="hidden", trigger_mode="always_last",
                    js="(name, payload, shown) => [name, window.__vaeClick || payload, shown]").then(
        None, js=on_phone_show("#click-result"), api_name=False)
    spot_btn.click(None, None, [clicked, click_text], js=SPOT_WORDS, api_name=False).then(
        None, js=on_phone_show("#click-result"), api_name=False)


# Gradio's Plot has no click event: this listens to Plotly's own clicks on the map. A click on empty space
# of a 2-D model's plane is drawn here in the browser (the decoded picture, then #map-spot-btn's words);
# any other click goes to the server (#map-click-btn, with the point as JSON: its test-image index, or x, y).
CLICKS = """
const bind = (plot) => {
  if (plot.__vaeBound || typeof plot.on !== 'function') return;
  plot.__vaeBound = true;
  plot.on('plotly_click', (event) => {
    const p = event && event.points && event.points[0];
    if (!p) return;
    const index = p.data.type.startsWith('scatter') && p.customdata !== undefined ? Number(p.customdata) : null;
    const x = Number(p.x), y = Number(p.y);
    // The spot clicked is ringed (a shape: redrawing it leaves the 10,000 dots alone); the map's own
    // shapes (a 2-D map's digit regions) stay, the previous ring goes.
    const kept = ((plot.layout && plot.layout.shapes) || []).filter((s) => s.name !== 'ring');
    if (window.Plotly) window.Plotly.relayout(plot, {shapes: [...kept, {type: 'circle', xref: 'x', yref: 'y',
      name: 'ring', xsizemode: 'pixel', ysizemode: 'pixel', xanchor: x, yanchor: y,
      x0: -10, x1: 10, y0: -10, y1: 10, line: {color: '#d62728', width: 3}}]});
    const spot = window.vaeDraw && window.vaeDraw.get('click-decoded');
    if (index === null && spot && spot.drawsHere(2)) {
      window.__vaeSpot = {x, y, noun: spot.value.noun || 'digit'};
      spot.showCodes([[x, y]]);
      document.querySelector('#map-spot-btn').click();
      return;
    }
    window.__vaeClick = JSON.stringify({index, x, y, t: Date.now()});
    document.querySelector('#map-click-btn').click();
  });
};
const scan = () => document.querySelectorAll('#latent-map .js-plotly-plot').forEach(bind);
new MutationObserver(scan).observe(document.querySelector('#latent-map') || document.body, {childList: true, subtree: true});
setInterval(scan, 1000);
"""
SPOT_WORDS = """() => { const s = window.__vaeSpot;
  return [{__type__: 'update', value: null, visible: false},
          `**The spot z = (${s.x.toFixed(2)}, ${s.y.toFixed(2)})** (ringed in red): no test ${s.noun} needed; ` +
          'this is what the decoder draws there.']; }"""


def for_model(name: str | None, projection: str, manifold: bool):
    """A new model: a 2-D model is its own map (the PCA/UMAP choice hides, the decoded digits may show
    under it); the clicked point belongs to the old model, so its panel empties; and the map."""
    two_d = bool(name) and get_model(name).latent_dim == 2
    kind = CTX.kind(name)
    # Nothing decoded yet; on a 2-D plane the page gets the decoder that will draw the spots clicked.
    spots = {"decoder": decoder_url(name), "codes": None, "noun": kind.noun} if two_d else None
    return (gr.update(visible=not two_d), gr.update(visible=two_d, label=kind.say("Show decoded digits under a 2-D map")),
            gr.update(value=None, visible=False, label=f"test {kind.noun}"), spots, "Click a dot on the map.",
            *show_map(name, projection, manifold))


def show_map(name: str, projection: str, manifold: bool):
    """The map; a UMAP not computed yet shows PCA meanwhile, and the timer waits for it."""
    if CTX.test_images(name) is None:
        return None, no_data(name), "", gr.Timer(active=False)
    model = get_model(name)
    status, waiting = "", False
    if projection == "UMAP" and model.latent_dim > 2:
        emb = CTX.registry.embedding(name, CTX.test_images(name))
        waiting = emb.umap is None
        if waiting:
            _start_umap(name)
            status = (f"UMAP for {name} is being computed ({emb.umap_status}); PCA is shown until it is "
                      "ready. The map switches by itself.")
    note = CTX.kind(name).say(NOTE_2D if model.latent_dim == 2 else NOTE_ND.format(d=model.latent_dim))
    return main_map(name, projection, manifold), note, status, gr.Timer(active=waiting)


def main_map(name: str, projection: str, manifold: bool) -> PlotData:
    """The main map as the page receives it, made once per model's weights and choice and kept (the last
    MAPS_KEPT): every visitor's page opens on it, and making it costs a tenth of a second of a core."""
    model, emb = get_model(name), CTX.registry.embedding(name, CTX.test_images(name))
    shown = "2-D" if model.latent_dim == 2 else "UMAP" if projection == "UMAP" and emb.umap is not None else "PCA"
    key = (name, CTX.registry.entry(name).digest, shown, bool(manifold))
    with _maps_lock:
        if key in _maps:
            _maps.move_to_end(key)
            return _maps[key]
    made = PlotData(type="plotly", plot=map_figure(name, projection, manifold, webgl=True).to_json())
    with _maps_lock:
        _maps[key] = made
        while len(_maps) > MAPS_KEPT:
            _maps.popitem(last=False)
    return made


def before_serving(name: str | None) -> None:
    """Make the map a page opens on for this model before the server answers, so no visitor waits for it."""
    if name is None or CTX.test_images(name) is None:
        return
    try:
        main_map(name, *OPENS_ON)
    except Exception as e:  # start-up must never fail on a bad model; the map says what is wrong
        log.warning("the first map of %s: %s", name, e)


def _start_umap(name: str) -> None:
    """UMAP takes tens of seconds: it runs as background work (one job at a time, low priority)."""
    emb = CTX.registry.embedding(name, CTX.test_images(name))
    if emb.umap_status not in ("queued", "running", "ready") and not emb.umap_status.startswith("failed"):
        emb.umap_status = "queued"
        CTX.background.start(_umap_quietly, name)


def _umap_quietly(name: str) -> None:
    try:
        CTX.registry.compute_umap(name, CTX.test_images(name))
    except Exception:
        pass  # the registry records the failure in umap_status, which the status line shows


def poll_umap(name: str, projection: str, manifold: bool):
    """Timer tick while a UMAP is awaited: swap it in when ready, and stop ticking."""
    if projection != "UMAP" or not name or CTX.test_images(name) is None:
        return gr.skip(), gr.skip(), gr.Timer(active=False)
    emb = CTX.registry.embedding(name, CTX.test_images(name))
    if emb.umap_status.startswith("failed"):
        return gr.skip(), f"UMAP could not be computed: {emb.umap_status}", gr.Timer(active=False)
    if emb.umap is None:
        return gr.skip(), gr.skip(), gr.skip()
    return main_map(name, "UMAP", manifold), "UMAP ready (cached on disk for this model).", gr.Timer(active=False)


@torch.no_grad()
def map_click(name: str, payload: str, shown=None):
    """A click on the map, sent by the page's JavaScript bridge as JSON {index} or {x, y}."""
    try:
        click = json.loads(payload or "{}")
    except (json.JSONDecodeError, RecursionError):  # RecursionError: arrays nested thousands deep
        raise refuse("The map sent an unreadable click.") from None
    if not isinstance(click, dict):
        raise refuse('A map click is a JSON object: {"index": N} or {"x": X, "y": Y}.')
    model = get_model(name)
    test = need_test_images(name)
    if click.get("index") is not None:
        i = click["index"]
        if not isinstance(i, int) or not 0 <= i < len(test):
            raise refuse(f"There is no test image #{str(i)[:20]}: they are numbered 0 to {len(test) - 1}.")
        return _clicked_digit(name, model, i)
    if model.latent_dim != 2:
        return gr.skip(), gr.skip(), "Click a dot: on a projected map, empty space has no single code."
    zx = check_number(click.get("x"), -CODE_LIMIT, CODE_LIMIT, "x")
    zy = check_number(click.get("y"), -CODE_LIMIT, CODE_LIMIT, "y")
    # No test digit belongs to an empty spot: hide its frame rather than show an empty one.
    return (gr.update(value=None, visible=False),
            picture_value(name, torch.tensor([[zx, zy]]), shown, noun=CTX.kind(name).noun),
            f"**The spot z = ({zx:.2f}, {zy:.2f})** (ringed in red): no test {CTX.kind(name).noun} needed; this is "
            "what the decoder draws there.")


def _clicked_digit(name: str, model, i: int):
    x = data.to_float(need_test_images(name)[i:i + 1])
    mu, logvar = model.encode(x)
    recon = latent.decode_images(model, mu)
    sigma = torch.exp(0.5 * logvar)[0].numpy()
    label, kind = int(CTX.test_labels(name)[i]), CTX.kind(name)
    dims = latent.informative_dims(CTX.registry.embedding(name, CTX.test_images(name)).kl_per_dim, CODE_DIMS_SHOWN)
    code = ", ".join(f"number {d + 1} is {mu[0, d]:.2f} ± {sigma[d]:.2f}" for d in dims)
    text = (f"**Test image #{i}, {kind.a(label)}** (ringed in red on the map). Left: the {kind.noun}. Right: what the model draws back from its "
            f"code (the encoder's most likely numbers for it). The numbers it uses most (± how unsure): {code}.")
    return gr.update(value=picture(x), visible=True), picture_value(name, mu, None, recon, noun=kind.noun), text
