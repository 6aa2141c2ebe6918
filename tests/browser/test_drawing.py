"""Pictures drawn in the visitor's browser (ui/drawing.py and drawing.js, onnxruntime-web): once the page's
decoder is ready, dragging a slider redraws with no request to the server, and the browser draws what the
server's decode draws; until then, or where it cannot, the server draws."""

import time

import numpy as np
import pytest

from conftest import MAIN

from .pages import (Requests, canvas_pixels, choose_model, drag, drawn, drawn_by, draws_here, go, interpolate,
                    open_page, tab, toasts, wait_for)

gradio_client = pytest.importorskip("gradio_client")


@pytest.fixture(scope="module")
def server(app_url):
    return gradio_client.Client(app_url, verbose=False)


def same_as_the_servers_decode(page, server, name: str, model: str) -> None:
    """The picture `name` shows the server's /decode of the codes it shows, to within 1/255."""
    code = page.evaluate(f"() => window.vaeDraw.get('{name}').codes[0]")
    decoded = np.array(server.predict(model, code, api_name="/decode")["image"]) * 255
    assert np.abs(canvas_pixels(page, name) - decoded).max() <= 1.0 + 1e-3  # /decode rounds to 4 decimals


def drag_generate(page, requests) -> list:
    """Drag Generate's first slider, mouse down throughout; the requests the page made meanwhile."""
    before, start = drawn(page, "generate-digit"), len(requests.seen)
    slider = page.locator("#views input[type=range]:visible").first
    box = slider.bounding_box()
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] * 0.5, y)
    page.mouse.down()
    for f in (0.55, 0.62, 0.7, 0.8, 0.9):  # no pause: a pause of drawing.js's SETTLE_MS asks for the map
        page.mouse.move(box["x"] + box["width"] * f, y, steps=3)
    during = requests.since(start)
    assert drawn(page, "generate-digit") >= before + 3  # redrawn while the mouse is still down
    page.mouse.up()
    return during


def test_a_generate_slider_drags_with_no_request_and_draws_what_the_server_draws(browser, app_url, server):
    page = open_page(browser, app_url)
    requests = Requests(page)
    tab(page, "Generate")
    draws_here(page, "generate-digit")
    assert drag_generate(page, requests) == []
    assert drawn_by(page, "generate-digit") == "browser"
    same_as_the_servers_decode(page, server, "generate-digit", "mnist-z2")
    choose_model(page, f"{MAIN} (32 numbers")  # another shipped model, another decoder
    wait_for(lambda: page.evaluate("() => window.vaeDraw.get('generate-digit').value.codes[0].length") == 32,
             what="the 32-number model's code")
    draws_here(page, "generate-digit")
    assert drag_generate(page, requests) == []
    same_as_the_servers_decode(page, server, "generate-digit", MAIN)
    assert toasts(page) == []


def test_where_the_browser_cannot_draw_the_server_does(browser, app_url, server):
    page = open_page(browser, app_url + "?draw=server")  # as where WebAssembly is missing
    requests = Requests(page)
    tab(page, "Generate")
    wait_for(lambda: drawn(page, "generate-digit"), what="the first digit")
    assert drag_generate(page, requests)  # each move asks the server (its last one wins)
    wait_for(lambda: drawn_by(page, "generate-digit") == "server", what="the server's picture")
    time.sleep(1.0)  # the last move's answer
    same_as_the_servers_decode(page, server, "generate-digit", "mnist-z2")
    assert page.evaluate("() => window.vaeDraw.timings.filter(t => t.source === 'server').length") >= 1


def test_the_2d_maps_empty_space_make_and_interpolate_draw_in_the_browser(browser, app_url, server):
    page = open_page(browser, app_url)
    requests = Requests(page)
    draws_here(page, "click-decoded")
    corner = page.evaluate("""() => {
      const gd = document.querySelector('#latent-map .js-plotly-plot'), plane = gd.querySelector('.nsewdrag');
      plane.scrollIntoView({block: 'center'});
      const box = plane.getBoundingClientRect();
      return {x: box.left + gd._fullLayout.xaxis.l2p(4.0), y: box.top + gd._fullLayout.yaxis.l2p(-4.0)}; }""")
    start = len(requests.seen)
    page.mouse.click(corner["x"], corner["y"])
    wait_for(lambda: "The spot z = (" in page.inner_text("#click-text"), what="the spot's words")
    assert requests.since(start) == [] and drawn_by(page, "click-decoded") == "browser"
    same_as_the_servers_decode(page, server, "click-decoded", "mnist-z2")
    go(page, "Make a digit")
    wait_for(lambda: drawn(page, "make-changed"), what="the first made digit")
    draws_here(page, "make-changed")
    before, start = drawn(page, "make-changed"), len(requests.seen)
    drag(page, page.locator("#views .block:has-text('stroke') input[type=range]").first, [0.5, 0.6, 0.75, 0.9])
    assert requests.since(start) == [] and drawn(page, "make-changed") > before
    interpolate(page)
    draws_here(page, "interp-strip")
    before, start = drawn(page, "interp-strip"), len(requests.seen)
    drag(page, page.locator("#views .block:has-text('steps') input[type=range]").first, [0.36, 0.5, 0.7, 0.95],
         pause=0.2, release=False)
    assert requests.since(start) == [] and drawn(page, "interp-strip") > before  # the walk redrawn here
    page.mouse.up()
    wait_for(lambda: len(requests.since(start)) >= 1, what="the map and the files, once let go")
    assert toasts(page) == []
