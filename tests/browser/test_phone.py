"""The page on a phone (390 x 844): every view one tap away, each picture where a thumb expects it."""

import re
import time

import pytest


from .pages import dot, drawn, go, no_white_band_above_the_map, open_page, shot, wait_for


def test_a_phone_sees_the_map_and_the_digit_above_its_sliders(browser, app_url, shots):
    page = open_page(browser, app_url, width=390, height=844)
    time.sleep(1.0)
    fits = "() => document.documentElement.scrollWidth <= window.innerWidth + 1"
    assert page.evaluate(fits)  # nothing pushes the page wider than the phone
    plot = page.locator("#latent-map .js-plotly-plot").bounding_box()
    assert plot["width"] >= 300  # the map keeps the phone's width (a legend beside it would squeeze it)
    assert plot["height"] <= plot["width"] + 200  # the square 2-D plane, its legend and title: no empty bands
    no_white_band_above_the_map(page)  # the legend in three rows, the title still above it
    # A tap on a dot: the digit shows just below the map, and the map stays where it was under the finger
    # (the digit's pictures, above the map, pushed it down).
    page.locator("#latent-map").scroll_into_view_if_needed()
    top = page.evaluate("() => document.querySelector('#latent-map').getBoundingClientRect().top + window.scrollY")
    page.mouse.click(**{k: v for k, v in dot(page).items() if k in "xy"})
    wait_for(lambda: page.locator("#click-digit img").is_visible(), what="the tapped digit's image")
    time.sleep(1.0)  # the smooth scroll that brings it on screen
    assert page.evaluate("() => document.querySelector('#latent-map').getBoundingClientRect().top "
                         "+ window.scrollY") == pytest.approx(top, abs=2)
    digit, plot = (page.locator(sel).bounding_box() for sel in ("#click-digit img", "#latent-map"))
    assert plot["y"] + plot["height"] <= digit["y"] and digit["y"] + digit["height"] <= 844  # below it, on screen
    shot(page, shots, "phone-map.png")
    go(page, "Generate")
    wait_for(lambda: drawn(page, "generate-digit"), what="the first digit")
    digit = page.locator("#generate-digit canvas").bounding_box()
    slider = page.locator("input[type=range]:visible").first.bounding_box()
    assert digit["y"] + digit["height"] <= slider["y"]  # the digit sits above the sliders that move it
    assert page.evaluate(fits)
    shot(page, shots, "phone-generate.png")
    go(page, "Make a digit")
    wait_for(lambda: re.search(r"takes (all 8|\d of 8) for a 3", page.inner_text("body")), what="eight new 3s")
    made = page.locator(".block:has-text('new digits made by the model') img").first.bounding_box()
    check = page.locator("#make-check").bounding_box()
    assert made["y"] + made["height"] <= check["y"]  # the model's reading of its digits under them, not above
    assert page.evaluate(fits)
    shot(page, shots, "phone-make.png")
    for view, name in [("Reconstruct", "reconstruct"), ("Interpolate", "interpolate"), ("KL weight β", "beta"),
                       ("How it works", "how-it-works")]:
        go(page, view)  # every view one tap away on a phone
        # ... and it starts at the top of the screen, not below the header (once the server has switched it:
        # on a busy machine that took more than the 2 s this test once waited)
        top = "() => document.querySelector('#views').getBoundingClientRect().top"
        wait_for(lambda: abs(page.evaluate(top)) <= 5, timeout=20, what=f"{view} at the top of the screen")
        time.sleep(1.0)  # the view's last pictures
        assert page.evaluate(fits), view
        shot(page, shots, f"phone-{name}.png")
    page.close()
