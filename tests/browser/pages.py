"""What the browser stories share: opening the app's page in Chromium, waiting for it, reading what it shows."""

import time
from pathlib import Path

from benchmarks.latency import GL_INK

def open_page(browser, url, width=1280, height=900):
    page = browser.new_page(viewport={"width": width, "height": height})
    page.console_lines = []  # what the page logs, e.g. the browser's warnings about WebGL contexts
    page.on("console", lambda message: page.console_lines.append(message.text))
    page.goto(url)
    page.wait_for_selector("#latent-map .js-plotly-plot", timeout=90_000)
    return page


def tab(page, name):
    page.get_by_role("tab", name=name).first.click()
    time.sleep(0.5)


def shot(page, folder: Path | None, name: str, settle: float = 1.0) -> Path | None:
    """A screenshot into `folder` (assets/, when the tests refresh them), after the page's last pictures have
    had `settle` seconds to arrive; nothing when not refreshing them."""
    if folder is None:
        return None
    time.sleep(settle)
    folder.mkdir(exist_ok=True)
    page.screenshot(path=str(folder / name), full_page=True)
    return folder / name


def wait_for(predicate, timeout=60.0, what="the page to update"):
    deadline, value = time.time() + timeout, None
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what} (last seen: {value!r:.300})")


def image_src(page, label):
    loc = page.locator(f".block:has-text('{label}') img").first
    return loc.get_attribute("src") if loc.count() else None


def dot(page) -> dict:
    """Where on the screen the main map draws a test digit's dot (the first of its first class)."""
    return page.evaluate("""() => {
      const gd = document.querySelector('#latent-map .js-plotly-plot');
      const tr = gd._fullData.find(t => t.type.startsWith('scatter') && t.x.length > 0);
      const box = gd.querySelector('.nsewdrag').getBoundingClientRect();
      return {x: box.left + gd._fullLayout.xaxis.l2p(tr.x[0]), y: box.top + gd._fullLayout.yaxis.l2p(tr.y[0]),
              index: tr.customdata[0], digit: tr.name};
    }""")


# Where the main map's title, legend and plotting area are, top to bottom, from the top of the chart.
MAP_BANDS = """() => { const gd = document.querySelector('#latent-map .js-plotly-plot');
    const top = gd.getBoundingClientRect().top, box = s => gd.querySelector(s).getBoundingClientRect();
    return {title: box('.legendtitletext').top - top, legend: box('.legend').bottom - top,
            plot: box('.nsewdrag').top - top}; }"""


# A picture's label is shown whole: not cut short, and no button of the picture's over it (with three
# buttons beside them, the clicked digit's labels read "test digi" and "decode").
LABEL_IN_FULL = """sel => { const block = document.querySelector(sel), label = block.querySelector('[data-testid="block-label"]');
    const l = label.getBoundingClientRect();
    const clear = [...block.querySelectorAll('button')].map(b => b.getBoundingClientRect()).filter(r => r.width > 0)
        .every(r => r.left >= l.right - 1 || r.right <= l.left + 1 || r.top >= l.bottom - 1 || r.bottom <= l.top + 1);
    return clear && [label, ...label.querySelectorAll('*')].every(e => e.scrollWidth <= e.clientWidth + 1); }"""


def no_white_band_above_the_map(page) -> None:
    """The title at the top, the legend under it and the map under that: a top margin fixed for a phone's
    four rows of legend left 60 px of white between the title and a laptop's one row."""
    bands = page.evaluate(MAP_BANDS)
    assert bands["title"] <= 20 and 0 <= bands["plot"] - bands["legend"] <= 20, bands


def ring(page) -> tuple[float, float]:
    """Where the red ring of the last click sits on the map (its data coordinates)."""
    shapes = wait_for(lambda: [s for s in page.evaluate(
        "() => (document.querySelector('#latent-map .js-plotly-plot').layout.shapes || [])") if s.get("name") == "ring"],
        what="the ring")
    assert len(shapes) == 1
    return shapes[0]["xanchor"], shapes[0]["yanchor"]


def interpolate(page):
    """Pick both ends at random and walk between them, as a visitor would."""
    tab(page, "Interpolate")
    before = drawn(page, "interp-strip")
    page.get_by_role("button", name="Pick A").click()
    page.get_by_role("button", name="Pick B").click()
    wait_for(lambda: page.locator("text=test image #").count() >= 2, what="both ends")
    page.get_by_role("button", name="Interpolate", exact=True).click()
    wait_for(lambda: drawn(page, "interp-strip") > before, what="the interpolation strip")


def drawn(page, name: str) -> int:
    """How many times the page has drawn the picture called `name` (a DigitCanvas), 0 before the first."""
    return int(page.evaluate(f"() => {{ const c = document.querySelector('#{name} canvas'); "
                             "return c && c.dataset.drawn ? Number(c.dataset.drawn) : 0; }"))


def drawn_by(page, name: str) -> str:
    """Who drew the picture called `name` last: 'browser' or 'server'."""
    return page.evaluate(f"() => document.querySelector('#{name} canvas').dataset.source")


def canvas_pixels(page, name: str):
    """The grey values (0..255) the picture called `name` shows, as its canvas holds them."""
    import numpy as np
    size = page.evaluate(f"() => {{ const c = document.querySelector('#{name} canvas'); return [c.height, c.width]; }}")
    return np.array(page.evaluate(f"() => window.vaeDraw.pixelsOf('{name}')"), dtype=np.float32).reshape(size)


def draws_here(page, name: str, timeout: float = 90.0) -> None:
    """Wait until the page draws the picture called `name` with its own decoder."""
    try:
        wait_for(lambda: page.evaluate(f"() => !!(window.vaeDraw && window.vaeDraw.get('{name}') "
                                       f"&& window.vaeDraw.get('{name}').local)"), timeout=timeout,
                 what=f"the browser's decoder for {name}")
    except AssertionError as e:  # what the picture held, to tell a decoder never asked for from one failing
        value = page.evaluate(f"() => window.vaeDraw && window.vaeDraw.get('{name}') "
                              f"&& JSON.stringify(window.vaeDraw.get('{name}').value)")
        raise AssertionError(f"{e}; its value: {str(value)[:300]}") from None


def drag(page, slider, fractions, pause: float = 0.15, release: bool = True) -> None:
    """Drag a slider's handle (a Playwright locator of its range input) through `fractions` of its track;
    with release=False the button stays down (the drag not yet over: page.mouse.up() ends it)."""
    box = slider.bounding_box()
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] * fractions[0], y)
    page.mouse.down()
    for f in fractions[1:]:
        page.mouse.move(box["x"] + box["width"] * f, y, steps=3)
        time.sleep(pause)
    if release:
        page.mouse.up()


class Requests:
    """The requests a page makes to the server's queue (the events it sends), counted from now."""

    def __init__(self, page):
        self.page, self.seen = page, []
        page.on("request", lambda r: self.seen.append(r.url) if "/queue/join" in r.url else None)

    def since(self, start: int) -> list:
        # Looking at the page lets headless Chromium draw a frame: with none to draw it held back what the
        # page's timers had sent (a real screen draws all along).
        self.page.evaluate("() => new Promise(r => requestAnimationFrame(r))")
        return self.seen[start:]


def toasts(page) -> list[str]:
    return [t for t in page.locator(".toast-body").all_inner_texts() if t.strip()]


# The width of each chart on screen, and of the box it sits in.
CHART_WIDTHS = """() => [...document.querySelectorAll('.js-plotly-plot')].filter(p => p.offsetParent !== null && p.querySelector('.main-svg'))
    .map(p => [p.querySelector('.main-svg').getBoundingClientRect().width, p.parentElement.getBoundingClientRect().width])"""


# A map's title is the first line of its legend's (figures._base_layout); other charts have their own.
VISIBLE_PLOT_TITLES = """() => [...document.querySelectorAll('#views .js-plotly-plot')].filter(p => p.offsetParent !== null)
    .map(p => (p.querySelector('.legendtitletext') || p.querySelector('.gtitle') || {}).textContent || '')"""


def choose_model(page, name):
    page.locator(".block:has-text('Model') input").first.click()
    page.get_by_role("option", name=name).first.click()


def draw_and_encode(page, strokes, scale: float = 0.7):
    """Draw strokes with the mouse on the sketchpad (in a square `scale` of the pad's side) and encode them;
    returns the page's text after."""
    # The page chooses the brush itself once the pad is drawn (no click of ours): wait for it, as a visitor
    # sees it.
    wait_for(lambda: page.evaluate("""() => { const b = document.querySelector('#sketch button[aria-label="Brush"]');
        return !!b && (b.classList.contains('highlight') || b.classList.contains('selected')); }"""),
              what="the brush chosen")
    box = page.locator("#sketch canvas").last.bounding_box()
    # The paper is a square in the middle of the editor: strokes go inside it.
    cx, cy, side = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2, min(box["width"], box["height"]) * scale
    for stroke in strokes:
        page.mouse.move(cx + (stroke[0][0] - 0.5) * side, cy + (stroke[0][1] - 0.5) * side)
        page.mouse.down()
        for fx, fy in stroke[1:]:
            page.mouse.move(cx + (fx - 0.5) * side, cy + (fy - 0.5) * side, steps=10)
        page.mouse.up()
    page.get_by_role("button", name="Encode my drawing").click()
    return wait_for(lambda: (t := page.inner_text("body")) and "your drawing as the model sees it" in t and t,
                     what="the drawing encoded")


SEVEN = [[(0.25, 0.2), (0.75, 0.2), (0.45, 0.85)]]
ONE = [[(0.5, 0.15), (0.5, 0.85)]]


# What each plot on screen shows: its SVG points, or for the WebGL main map the inked pixels of its canvas.
PLOTS_SHOW_POINTS = """() => [...document.querySelectorAll('.js-plotly-plot')].filter(p => p.offsetParent !== null)
    .map(p => p.querySelectorAll('.scatterlayer .point, .barlayer .point').length + (%s)(p))""" % GL_INK


def lesson(page, rounds: int) -> None:
    """What a class does in 45 minutes, compressed: every view many times, models, digits, beta, drawing."""
    views = ["Latent map", "Tour", "Generate", "Reconstruct", "Interpolate", "KL weight β", "How it works"]
    models = ["mnist-z32 (32 numbers", "mnist-z2 (2 numbers", "seed-mlp (20 numbers"]
    for r in range(rounds):
        for view in views:
            go(page, view)
            time.sleep(0.6)
            if view == "Reconstruct":
                page.locator(".gallery-item, button.thumbnail-item").nth(r + 1).click()
            if view == "Tour":
                page.get_by_role("button", name="Next ▶").click()
        choose_model(page, models[r % len(models)])
        time.sleep(2.0)


def go(page, view):
    """Open a view the way a visitor would on this screen: its tab, or the phone's menu of views."""
    tab = page.get_by_role("tab", name=view).first
    if tab.is_visible():
        tab.click()
    else:
        page.locator("#phone-nav").get_by_text(view, exact=True).click()
    time.sleep(0.5)


PLACE_TRACES = "() => { const p = document.querySelector('#digit-place .js-plotly-plot'); return p ? p.data.map(t => t.name) : []; }"


def map_then_morph(page, shots, prefix, map_words, a_class, source_words, morph_class, morph_words):
    """The model shown's map (its words, its classes in the legend), then Reconstruct on one of its own test
    images, morphed into one of its classes; a screenshot of each, named after `prefix`."""
    wait_for(lambda: map_words in page.inner_text("body"), what=f"the {prefix} map")
    wait_for(lambda: a_class in page.locator("#latent-map").inner_text(), what="the map's legend of classes")
    time.sleep(1.0)
    shot(page, shots, f"{prefix}-map.png")
    go(page, "Reconstruct")
    wait_for(lambda: source_words in page.inner_text("body") and "It looks most like" in page.inner_text("body"),
              what=f"one of the {prefix} test images reconstructed")
    page.locator("#morph-to").get_by_text(morph_class, exact=True).click()
    wait_for(lambda: morph_words in page.inner_text("body"), what=f"the morph into {morph_class}")
    shot(page, shots, f"{prefix}-reconstruct.png")
