"""Training in the page: Watch it learn (a recording at once, then the visitor's own run, then its replay,
and the model it made drawn in the browser) and the β view's Train with this β."""

import re
import time

import numpy as np
import pytest
import torch

from vae_core import latent, load_model

from .conftest import REFRESH_ASSETS
from .pages import (
    Requests,
    canvas_pixels,
    choose_model,
    drag,
    drawn,
    draws_here,
    go,
    open_page,
    shot,
    tab,
    toasts,
    wait_for,
)

gradio_client = pytest.importorskip("gradio_client")
TITLE = "() => document.querySelector('#learn-player canvas').dataset.title || ''"


def _set(page, values: dict) -> None:
    for label, value in values.items():
        box = page.locator(f"#views .block:has-text('{label}') input[type=number]").first
        box.fill(value)
        box.press("Enter")


def test_watch_it_learn_plays_a_recording_at_once_then_the_visitors_run_and_its_model_draws_here(
        browser, app_url, app_server, shots):
    # The README's pictures show the default run (3,000 digits, 10 passes); the test a shorter one.
    page = open_page(browser, app_url)
    go(page, "Watch it learn")
    if not REFRESH_ASSETS:
        _set(page, {"digits to learn from": "1000", "passes over them": "2"})
    started = time.monotonic()
    page.click("#learn-start")
    wait_for(lambda: page.evaluate(TITLE), timeout=10, what="a map learning within 10 s")
    assert time.monotonic() - started < 10
    assert "Recording of a real run" in page.inner_text("#learn-player")
    wait_for(lambda: "Your model is learning" in page.inner_text("#learn-status"), timeout=120, what="its own run")
    wait_for(lambda: "Done in" in page.inner_text("#learn-status"), timeout=180, what="the run to end")
    last = wait_for(lambda: (t := page.evaluate(TITLE)) and "of 2)" in t and t, what="its own last frame")
    assert page.inner_text("#learn-player .learn-caption").startswith("Your model.")
    moment = page.locator("#learn-player .learn-moment")
    moment.fill("0")  # back to its first frame
    first = wait_for(lambda: (t := page.evaluate(TITLE)) != last and t, what="the first frame again")
    assert re.match(r"After [\d,]+ digits \(pass 1 of", first)
    page.click("#learn-player .learn-play")
    wait_for(lambda: page.evaluate(TITLE) == last, timeout=60, what="the playback to reach the end")
    assert toasts(page) == []
    shot(page, shots, "learn.png")
    # The model it made is the visitor's: in their menu, and drawn by their browser like a shipped one.
    name = re.search(r"(learn-z2-\d{6}-[0-9a-f]{8})", page.inner_text("#learn-status")).group(1)
    choose_model(page, name)
    requests = Requests(page)
    tab(page, "Generate")
    draws_here(page, "generate-digit")
    wait_for(lambda: drawn(page, "generate-digit"), what="its digit")
    before, start = drawn(page, "generate-digit"), len(requests.seen)
    drag(page, page.locator("#views input[type=range]:visible").first, [0.5, 0.6, 0.7, 0.8], release=False)
    assert requests.since(start) == [] and drawn(page, "generate-digit") > before
    page.mouse.up()
    # What the server's decoder draws of that code (the model is the visitor's: the API would not serve it
    # to this test's own client, so the folder the app wrote is read here).
    code = torch.tensor([page.evaluate("() => window.vaeDraw.get('generate-digit').codes[0]")])
    decoded = latent.decode_images(load_model(app_server[1] / "runs" / name), code)[0, 0].numpy()
    assert np.abs(canvas_pixels(page, "generate-digit") - decoded * 255).max() <= 1.001
    other = gradio_client.Client(app_url, verbose=False)  # another visitor is told there is no such model
    with pytest.raises(Exception, match="There is no model called"):
        other.predict(name, code[0].tolist(), api_name="/decode")


def test_on_a_phone_the_recording_fits_and_cancel_stops_the_wait(browser, app_url, shots):
    page = open_page(browser, app_url, width=390, height=844)
    go(page, "Watch it learn")
    for block in page.locator("#learn-settings .block").all():
        assert block.bounding_box()["width"] >= 300
    page.click("#learn-start")
    wait_for(lambda: page.evaluate(TITLE), timeout=10, what="a map learning within 10 s")
    box = page.locator("#learn-player canvas").bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 391  # the map fits the screen
    page.get_by_role("button", name="Cancel").first.click()
    wait_for(lambda: "Cancel" in page.inner_text("#learn-status"), timeout=30, what="the run cancelled")
    assert toasts(page) == []
    shot(page, shots, "learn-phone.png")


def test_a_model_trained_at_the_sliders_beta_is_what_the_view_then_shows(browser, app_url):
    page = open_page(browser, app_url)
    tab(page, "KL weight β")
    wait_for(lambda: "Slider β = 1" in page.inner_text("body"), what="the beta view")
    page.get_by_role("button", name="Train with this β").first.click()  # opens the accordion
    for label, value in {"β (KL weight)": "3", "epochs": "1", "training images": "500"}.items():
        box = page.get_by_label(f"number input for {label}", exact=True)
        box.fill(value)
        box.press("Enter")
    wait_for(lambda: "500 digits × 1 epochs" in page.inner_text("#beta-estimate"), what="the estimate before it starts")
    page.locator("button.primary:has-text('Train with this β')").click()
    status = wait_for(lambda: (t := page.inner_text("body")) and "joined the model list" in t and t, timeout=180,
                      what="the run to end")
    name = re.search(r"(mnist-z32-beta3-\d{6}-[0-9a-f]{8}) joined the model list", status).group(1)
    assert "The pictures above show it now." in status
    wait_for(lambda: f"Slider β = 3: showing {name}, exactly this β" in page.inner_text("body"),
             what="the view to show the new model")
    assert toasts(page) == []
