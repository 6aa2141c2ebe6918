"""The page's frame: limits shared by sliders and handlers, views drawn only when on screen, the theme."""

from types import SimpleNamespace

import gradio as gr
import pytest
import torch

import app
from conftest import MAIN, run_async
from ui import common
from ui.common import Limit
from ui.page import _gate
from ui.state import CTX
from ui.trainer import TRAINER
from ui.views import beta, generate, interpolate, learn


def _limits() -> dict[str, Limit]:
    """Every Limit the views and their shared module define, by name."""
    modules = [common, *app.VIEWS]
    return {f"{m.__name__}.{k}": v for m in modules for k, v in vars(m).items() if isinstance(v, Limit)}


def test_every_slider_takes_its_range_from_a_limit_that_its_handler_checks():
    limits = _limits()
    assert {"ui.views.generate.TEMPERATURE", "ui.common.BETA", "ui.views.interpolate.STEPS",
            "ui.views.beta.EPOCHS", "ui.views.beta.IMAGES"} <= set(limits)
    ranges = {(lim.lo, lim.hi, lim.step) for lim in limits.values()}
    sliders = [b for b in app.demo.blocks.values() if isinstance(b, gr.Slider)]
    assert len(sliders) >= 13  # 8 latent sliders, temperature, steps, beta, epochs, images
    assert all((s.minimum, s.maximum, s.step) in ranges for s in sliders)
    for name, lim in limits.items():
        assert lim.check(lim.lo, name) == lim.lo and lim.check(lim.hi, name) == lim.hi
        for bad in (lim.hi + lim.step, lim.lo - lim.step, float("nan"), 10**400, "ten", None):
            with pytest.raises(gr.Error) as e:
                lim.check(bad, "the value")
            assert f"between {lim.lo:g} and {lim.hi:g}" in str(e.value), (name, bad)


def test_out_of_range_values_are_refused_by_the_handlers_themselves():
    # The API and scripts reach handlers without the slider's own check: each handler checks again.
    with pytest.raises(gr.Error, match="temperature must be between 0 and 2"):
        generate.sample_grid(MAIN, 3.0)
    with pytest.raises(gr.Error, match="steps must be between 2 and 24"):
        interpolate.interpolation(CTX.registry.model(MAIN), torch.rand(2, 1, 28, 28), 500, "linear")
    first = lambda generator: run_async(generator.__anext__())  # noqa: E731
    with pytest.raises(gr.Error, match="β must be between 0.1 and 8"):
        first(beta.train_beta(20.0, 1, 500, SimpleNamespace(session_hash="v")))
    with pytest.raises(gr.Error, match="digits to learn from must be between 1000 and 10000"):
        first(learn.learn(10**6, 1, SimpleNamespace(session_hash="v")))
    with pytest.raises(gr.Error, match="passes must be between 1 and 20"):
        first(learn.learn(1000, 0, SimpleNamespace(session_hash="v")))
    assert TRAINER.waiting() == TRAINER.running() == 0  # none of them joined the trainer's line



def test_a_view_is_drawn_only_on_screen_and_only_when_what_it_shows_is_stale():
    calls = []

    def draw(name):
        calls.append(name)
        return f"drawn for {name}"

    gate = _gate("generate", draw, 1, per_model=True)
    request = SimpleNamespace(session_hash="s")
    assert gate(request, "map", None, MAIN, MAIN) == [gr.skip()] * 2  # another view is on screen
    assert calls == []
    assert gate(request, "generate", None, MAIN, MAIN) == [MAIN, f"drawn for {MAIN}"]  # opened: drawn
    assert gate(request, "generate", MAIN, MAIN, MAIN) == [gr.skip()] * 2  # opened again, same model
    assert gate(request, "generate", MAIN, "mnist-z2", "mnist-z2")[0] == "mnist-z2"  # a new model: redrawn
    assert calls == [MAIN, "mnist-z2"]
    once = _gate("tour", lambda: ("a", "b"), 2, per_model=False)
    assert once(request, "tour", None, MAIN) == ["drawn", "a", "b"]
    assert once(request, "tour", "drawn", "mnist-z2") == [gr.skip()] * 3  # not per model: drawn once


def test_a_staged_view_shows_its_stages_and_gets_the_visitors_request():
    def stages(name, request):
        yield f"{name} for {request.session_hash}", gr.skip()
        yield gr.skip(), "grid"

    gate = _gate("generate", stages, 2, per_model=True)
    out = list(gate(SimpleNamespace(session_hash="s"), "generate", None, MAIN, MAIN))
    assert out == [[MAIN, f"{MAIN} for s", gr.skip()], [MAIN, gr.skip(), "grid"]]
    assert list(gate(SimpleNamespace(session_hash="s"), "map", None, MAIN, MAIN)) == [[gr.skip()] * 3]


def test_opening_the_page_draws_only_the_header_and_the_first_view():
    """Every view draws itself through a gate (which skips unless it is on screen); nothing else of a
    view runs when the page opens or the model changes."""
    fns = [f for f in app.demo.fns.values() if f.fn is not None]
    current = next(f.targets[0][0] for f in fns if f.name == "model_summary")  # the model-shown state
    loads = [f for f in fns if any(event == "load" for _, event in f.targets)]
    # The first view is drawn first, for the model the menu opens on; then the visitor's menus are filled
    # and the model shown is set, which the first view finds already drawn.
    assert [f.name for f in loads] == [f"show_{app.VIEWS[0].ID}_for_model"]
    assert [f.name for f in fns if f.trigger_after == loads[0]._id] == ["_on_load"]
    # The page is built showing the default model, so on opening the model shown does not change and none of
    # the events below runs: loading the page is two requests (they were 21, and slowed the first picture).
    state = next(b for b in app.demo.blocks.values() if b._id == current)
    default = CTX.default_model()
    assert state.value == default
    page_load = next(f for f in fns if f.name == "_on_load").fn
    shown, visitor, download, *menus = page_load(default, None, SimpleNamespace(session_hash="visitor"))
    assert shown == default and download["visible"] and download["value"].endswith(".zip")
    assert len(visitor) == 32 and CTX.owner_of("visitor") == visitor  # the browser keeps who they are
    assert len(menus) == len([f for f in fns if f.name == "_on_load"][0].outputs) - 3
    on_open = {f.name for f in fns if any(block == current and event == "change" for block, event in f.targets)}
    assert {name for name in on_open if not name.startswith("show_")} == {"model_summary", "model_zip", "header_words"}
    for view in app.VIEWS:
        if view is learn:  # draws nothing until its run starts
            continue
        assert any(f.name.startswith(f"show_{view.ID}_") for f in fns), f"{view.ID} draws itself through a gate"


def _luminance(hex_colour: str) -> float:
    channels = [int(hex_colour.lstrip("#")[i:i + 2], 16) / 255 for i in (0, 2, 4)]
    r, g, b = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def test_notes_and_hints_are_dark_enough_to_read_on_a_projector():
    """The notes under views and the hints under sliders: WCAG's 4.5:1 against white at least (Gradio's grey
    was 1.9:1)."""
    from ui.page import THEME
    assert THEME.block_info_text_color == "*body_text_color_subdued"
    colour = getattr(THEME, THEME.body_text_color_subdued.lstrip("*"))
    assert (1.05) / (_luminance(colour) + 0.05) >= 4.5
    assert (1.05) / (_luminance(THEME.neutral_400) + 0.05) < 4.5  # the check tells the old grey apart
