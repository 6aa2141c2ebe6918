"""A lesson's worth of use, and the tour a teacher presents."""

import time



from .pages import PLOTS_SHOW_POINTS, go, lesson, open_page, shot, toasts, wait_for


def test_a_lesson_long_visit_keeps_every_plot_drawn_and_raises_no_error(browser, app_url):
    page = open_page(browser, app_url)
    # Two rounds of every view, three models: what would leak (WebGL canvases and contexts, counted below)
    # leaks from the second round on. The phone's own views are test_phone's.
    lesson(page, rounds=2)
    assert toasts(page) == []
    for view in ["Latent map", "Generate", "Reconstruct", "Interpolate", "KL weight β"]:
        go(page, view)
        time.sleep(1.5)
        counts = wait_for(lambda: (c := page.evaluate(PLOTS_SHOW_POINTS)) and all(n > 0 for n in c) and c,
                           timeout=30, what=f"every plot of {view} drawn")
        assert counts, view
    # Only the main map draws with WebGL, in place: its one set of canvases, however long the lesson.
    gl_plots = "() => [...document.querySelectorAll('.js-plotly-plot')].filter(p => p.querySelector('.gl-container canvas'))"
    assert page.evaluate(f"() => ({gl_plots})().map(p => p.closest('#latent-map') !== null)") == [True]
    assert page.evaluate("() => document.querySelectorAll('.gl-container canvas').length") <= 3
    assert not [m for m in page.console_lines if "WebGL" in m and ("context" in m.lower())], page.console_lines
    page.close()


def test_the_tour_tells_the_story_and_sends_the_visitor_to_try_it(browser, app_url, shots):
    for width, height, suffix in [(1280, 900, ""), (390, 844, "-phone")]:
        page = open_page(browser, app_url, width=width, height=height)
        go(page, "Tour")
        for step in range(1, 7):
            wait_for(lambda: f"Step {step} of 6" in page.inner_text("body"), what=f"tour step {step}")
            wait_for(lambda: page.locator("#tour-picture img").count(), what="the step's picture")
            shot(page, shots, f"tour-{step}{suffix}.png")
            assert page.get_by_role("button", name="◀ Back").is_disabled() == (step == 1)
            if step == 1:  # Next is on the first screen (below the step's picture it fell under the fold)
                box = page.get_by_role("button", name="Next ▶").bounding_box()
                assert box["y"] + box["height"] <= height, box
            if step < 6:
                page.get_by_role("button", name="Next ▶").click()
        assert page.get_by_role("button", name="Next ▶").is_disabled()  # the story's end
        page.get_by_label("Presenter mode (large pictures for a projector)").check()
        time.sleep(0.5)
        picture = page.locator("#tour-picture").bounding_box()
        assert picture["height"] >= 0.45 * height and not page.locator("#intro").is_visible()
        if width > 640:  # on a projector the whole picture is on the screen, with the longest step's words
            assert picture["y"] + picture["height"] <= height, picture
        shot(page, shots, f"tour-presenter{suffix}.png")
        page.get_by_role("button", name="Try it: KL weight β ▸").click()
        wait_for(lambda: "Slider β =" in page.inner_text("body"), what="the beta view opened by Try it")
        # Try it leaves presenter mode (the view it opens is for the pupils' hands): the header is back, and
        # on the Tour again too (it stayed hidden there, and the checkbox ticked).
        wait_for(lambda: page.locator("#model-row").is_visible(), what="the header back, off the Tour")
        go(page, "Tour")
        wait_for(lambda: not page.get_by_label("Presenter mode (large pictures for a projector)").is_checked(),
                 what="presenter mode off")
        assert page.locator("#model-row").is_visible()
        page.close()
