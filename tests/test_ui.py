"""The app's pieces without a server: limits and validators, the training slot, cancel on tab close."""

import os
import re
import threading
import time
from types import SimpleNamespace

import gradio as gr
import numpy as np
import pytest
import torch

import app
from conftest import MAIN
from ui import api, common, diagram
from ui.common import Limit, digit_tensor
from ui.page import _gate
from ui.state import CTX, TrainingSlot
from ui.views import generate, how_it_works, interpolate, latent_map, learn, make, reconstruct, tour, training
from vae_core import concepts, data, images, latent


def test_training_slot_runs_one_then_its_line_in_order_and_refuses_the_rest():
    slot = TrainingSlot(max_waiting=2)
    assert slot.try_enter("a").position == 0  # runs now
    b, c = slot.try_enter("b"), slot.try_enter("c")
    assert (b.position, c.position) == (1, 2)  # wait in line
    assert slot.try_enter("d") is None  # the line is full: the visitor is told it is busy
    order = []

    def waiter(place, tag):
        assert slot.wait_turn(place, threading.Event())
        order.append(tag)
        time.sleep(0.05)
        slot.leave()
    threads = [threading.Thread(target=waiter, args=(p, t)) for p, t in ((c, "c"), (b, "b"))]
    for t in threads:
        t.start()
    time.sleep(0.1)
    assert order == []  # still waiting for the first run
    slot.leave()
    for t in threads:
        t.join(5)
    assert order == ["b", "c"]  # in the order they came, not the order they started waiting
    assert slot.try_enter("d").position == 0


def test_one_address_cannot_fill_the_training_line_or_jump_it():
    slot = TrainingSlot(max_waiting=3)
    assert slot.try_enter("script").position == 0
    mine = slot.try_enter("script")
    assert mine.position == 1  # a run of its own running, one more waiting
    assert slot.try_enter("script") is None  # a third from the same address: refused, the line is not full
    theirs = slot.try_enter("visitor")
    assert theirs.position == 2
    slot.leave()  # the script's run ends and it asks again at once: it cannot start before those waiting
    again = slot.try_enter("script")
    assert again is None  # it still has one waiting
    assert slot.wait_turn(mine, threading.Event(), timeout=0.01)
    again = slot.try_enter("script")
    assert again.position == 2  # behind the visitor, who waits through one run of the script's only
    slot.leave()
    assert slot.wait_turn(theirs, threading.Event(), timeout=0.01)


def test_a_waiting_visitor_can_cancel_and_a_vanished_one_is_dropped(monkeypatch):
    slot = TrainingSlot(max_waiting=2)
    slot.try_enter("a")
    waiting = slot.try_enter("b")
    cancel = threading.Event()
    cancel.set()
    assert slot.wait_turn(waiting, cancel, timeout=0.01) is False
    assert slot.try_enter("c").position == 1  # the cancelled visitor left the line
    assert slot.try_enter("d").position == 2
    monkeypatch.setattr(TrainingSlot, "STALE_SECONDS", 0.05)
    slot.leave()  # c's page went away without a word: it never comes to take its turn
    time.sleep(0.1)
    place = slot.try_enter("e")
    assert place.position == 2  # c was dropped: d is first in line
    assert slot.wait_turn(slot._line[0], threading.Event(), timeout=0.01)  # d's turn


def test_a_page_closed_while_in_the_training_line_gives_its_place_up(monkeypatch):
    slot = TrainingSlot(max_waiting=1)
    monkeypatch.setattr(CTX, "slot", slot)
    slot.try_enter("someone")
    waiting = training.enter_slot(SimpleNamespace(session_hash="v", client=None), lambda m: m)
    assert next(waiting).startswith("Waiting for the trainer: 1 run(s) ahead")
    assert slot.try_enter("else") is None  # the line is full
    waiting.close()
    assert slot.try_enter("else").position == 1  # the closed page's place went to the next


def test_closing_the_tab_cancels_that_visitors_training():
    event = CTX.cancels.setdefault("visitor-1", threading.Event())
    other = CTX.cancels.setdefault("visitor-2", threading.Event())
    training.visitor_left(SimpleNamespace(session_hash="visitor-1"))
    assert event.is_set() and not other.is_set() and "visitor-1" not in CTX.cancels
    training.cancel_training(SimpleNamespace(session_hash="visitor-2"))
    assert other.is_set()


def _limits() -> dict[str, Limit]:
    """Every Limit the views and their shared module define, by name."""
    modules = [common, *app.VIEWS, training]
    return {f"{m.__name__}.{k}": v for m in modules for k, v in vars(m).items() if isinstance(v, Limit)}


def test_every_slider_takes_its_range_from_a_limit_that_its_handler_checks():
    limits = _limits()
    assert {"ui.views.generate.TEMPERATURE", "ui.common.BETA", "ui.views.interpolate.STEPS",
            "ui.views.training.EPOCHS", "ui.views.training.IMAGES"} <= set(limits)
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
    with pytest.raises(gr.Error, match="β must be between 0.1 and 8"):
        next(training.train_beta(20.0, 1, 500, SimpleNamespace(session_hash="v")))
    with pytest.raises(gr.Error, match="digits to learn from must be between 1000 and 10000"):
        next(learn.learn(10**6, 1, SimpleNamespace(session_hash="v")))
    with pytest.raises(gr.Error, match="passes must be between 1 and 20"):
        next(learn.learn(1000, 0, SimpleNamespace(session_hash="v")))
    assert CTX.slot.try_enter().position == 0  # none of them took the training slot
    CTX.slot.leave()


@pytest.mark.parametrize("image, message", [
    ([[0.5] * 5], "got 1 rows"),
    ([[0.5] * 28] * 2000, "got 2000 rows"),
    ("a string", "got str rows"),
    ([[2.0] * 28] * 28, "values range from 2 to 2"),
    ([["x"] * 28] * 28, "some values are not numbers"),
    ([[10**400] * 28] * 28, "some values are not numbers"),
])
def test_the_digit_validator_says_what_was_wrong(image, message):
    with pytest.raises(gr.Error) as e:
        digit_tensor(image)
    assert "28 rows of 28 numbers between 0 and 1" in str(e.value) and message in str(e.value)


def test_a_code_too_large_for_a_float_gets_a_sentence_not_an_empty_error():
    with pytest.raises(gr.Error, match=r"z\[0\] must be a number between -10 and 10"):
        api.api_decode(MAIN, [10**400] + [0.0] * 31)


def test_trained_models_are_capped_per_visitor_and_in_all_oldest_first(tmp_path, monkeypatch):
    from vae_core import VAE, ModelConfig, save_checkpoint
    from ui import state

    monkeypatch.setenv("VAE_MODELS_DIR", str(tmp_path / "shipped"))
    monkeypatch.setenv("VAE_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.setattr(state, "TRAINED_MODELS", 5)
    model = VAE(ModelConfig(latent_dim=4, width=8))
    save_checkpoint(tmp_path / "shipped" / "main", model, {"beta": 1.0})
    ctx = state.Context(tmp_path)

    def trained(name, owner, age):
        save_checkpoint(tmp_path / "runs" / name, model, {"beta": 1.0})
        os.utime(tmp_path / "runs" / name, (time.time() - age, time.time() - age))
        ctx.registry.add(tmp_path / "runs" / name, owner=owner)
    for i in range(4):
        trained(f"a{i}", "visitor-a", 100 - i)  # a0 is the oldest
    trained("b0", "visitor-b", 200)
    ctx.make_room("visitor-a")  # a new run of a's: a keeps at most 2 before it, the oldest go
    assert sorted(ctx.registry.names()) == ["a2", "a3", "b0", "main"]
    trained("c0", "visitor-c", 50)
    trained("c1", "visitor-c", 40)
    ctx.make_room("visitor-c")  # 5 trained in all: the oldest of anyone's (b0) goes, never a shipped one
    assert sorted(ctx.registry.names()) == ["a2", "a3", "c0", "c1", "main"]
    assert not (tmp_path / "runs" / "b0").exists() and (tmp_path / "shipped" / "main").exists()


def test_a_model_damaged_after_listing_is_refused_without_the_servers_folders(tmp_path, monkeypatch, caplog):
    from safetensors.torch import save_file
    from vae_core import VAE, ModelConfig, save_checkpoint
    from ui import state

    monkeypatch.setenv("VAE_RUNS_DIR", str(tmp_path / "runs"))
    ctx = state.Context(tmp_path)
    model = VAE(ModelConfig(latent_dim=4, width=8))
    save_checkpoint(tmp_path / "runs" / "spoilt", model, {"beta": 1.0})
    ctx.registry.add(tmp_path / "runs" / "spoilt", owner="v")
    weights = {k: v.clone() for k, v in model.state_dict().items()}
    next(iter(weights.values())).fill_(float("nan"))  # the header still reads: only loading finds it
    save_file(weights, tmp_path / "runs" / "spoilt" / "model.safetensors")
    monkeypatch.setattr(common, "CTX", ctx)
    with caplog.at_level("WARNING", logger="vae_explorer"), pytest.raises(gr.Error) as refused:
        common.get_model("spoilt")
    assert "'spoilt' cannot be loaded: model.safetensors:" in refused.value.message
    assert "not finite" in refused.value.message and str(tmp_path) not in refused.value.message
    assert str(tmp_path) in caplog.text  # whoever runs the server can still find the file


def test_messages_for_the_page_name_files_not_the_servers_folders():
    assert common.without_folders("/srv/app/checkpoints/x/model.safetensors: not finite") == "model.safetensors: not finite"
    assert (common.without_folders("OSError: [Errno 28] No space left on device: '/tmp/runs/a-1/model.tmp'")
            == "OSError: [Errno 28] No space left on device: 'model.tmp'")
    assert common.without_folders("files in ~/data/mnist (or ./data/)") == "files in mnist (or )"
    kept = "the loss became NaN at step 12 of epoch 1/3 (β 0.5, 2.5e-4)"
    assert common.without_folders(kept) == kept  # a fraction is not a folder


def test_a_training_run_that_fails_says_why_without_the_servers_folders(mnist, monkeypatch):
    class Failing:  # a run whose process ended with an error, before its first step
        def __init__(self, *args, **kwargs):
            self.outcome = {"error": "OSError: [Errno 28] No space left on device: '/srv/app/runs/x/model.tmp'"}

        def updates(self, cancel_when):
            return iter(())
    monkeypatch.setattr(training, "TrainingProcess", Failing)
    monkeypatch.setattr(CTX, "slot", TrainingSlot(max_waiting=1))
    said = [status for status, _ in training.train_beta(1.0, 1, 500, SimpleNamespace(session_hash="v", client=None))]
    assert said[-1] == ("Training stopped: OSError: [Errno 28] No space left on device: 'model.tmp'. "
                        "Nothing was added.")
    assert CTX.slot.try_enter().position == 0  # the failed run gave the trainer back


def test_a_trained_models_name_cannot_be_guessed_from_the_time_it_was_made():
    from ui.state import trained_model_name

    names = {trained_model_name("learn-z2") for _ in range(50)}
    assert len(names) == 50 and all(re.fullmatch(r"learn-z2-\d{6}-[0-9a-f]{8}", n) for n in names)


def test_unfinished_and_running_trainings_are_named_as_such(tmp_path, monkeypatch):
    from vae_core import VAE, ModelConfig, save_checkpoint
    from ui import state
    from ui.page import model_summary

    monkeypatch.setenv("VAE_RUNS_DIR", str(tmp_path / "runs"))
    ctx = state.Context(tmp_path)
    model = VAE(ModelConfig(latent_dim=4, width=8))
    save_checkpoint(tmp_path / "runs" / "half", model, {"beta": 1.0, "progress": {"epoch": 2, "epochs": 5}})
    save_checkpoint(tmp_path / "runs" / "whole", model, {"beta": 1.0, "progress": {"epoch": 5, "epochs": 5}})
    ctx.registry.add(tmp_path / "runs" / "half", owner="v")
    ctx.registry.add(tmp_path / "runs" / "whole", owner="v")
    labels = dict((n, label) for label, n in ctx.model_choices("v"))
    assert "unfinished: stopped after 2 of 5 epochs" in labels["half"] and "trained here" in labels["whole"]
    assert labels["whole"].startswith("whole (4 numbers, β 1")  # the model card's words, not "latent 4"
    ctx.training_now.add("half")
    assert "still training: 2 of 5 epochs so far" in dict((n, lb) for lb, n in ctx.model_choices("v"))["half"]
    # A visitor's trained models are theirs: another visitor's menus list only the shipped ones.
    assert {n for _, n in ctx.model_choices("someone else")} == set()
    monkeypatch.setattr("ui.page.CTX", ctx)
    assert "still training" in model_summary("half")


def test_downloads_share_one_folder_that_keeps_only_the_newest(tmp_path, monkeypatch):
    monkeypatch.setattr(CTX.registry, "cache_dir", tmp_path)
    monkeypatch.setattr(common, "DOWNLOADS_KEPT", 3)
    paths = []
    for i in range(5):
        paths.append(common.download_file(f"strip {i}".encode(), "interpolation.png"))
        time.sleep(0.02)
    assert common.download_file(b"strip 4", "interpolation.png") == paths[-1]  # same content, same file
    kept = sorted(p.read_bytes() for p in (tmp_path / "downloads").glob("*/*"))
    assert kept == [b"strip 2", b"strip 3", b"strip 4"]


@pytest.mark.parametrize("payload, message", [
    ("[]", "A map click is a JSON object"),
    ('{"index": "7"}', "There is no test image #7"),
    ('{"index": 99999}', "There is no test image #99999"),
    ("{not json", "unreadable click"),
])
def test_malformed_map_clicks_get_a_sentence(payload, message, mnist):
    CTX.data_dir = None  # the test set from VAE_DATA_DIR
    with pytest.raises(gr.Error, match=message):
        latent_map.map_click(MAIN, payload)


def test_a_model_name_that_is_not_a_string_is_named_as_such():
    with pytest.raises(gr.Error, match="model must be a model's name, such as 'mnist-z32', not a list"):
        api.api_decode(["mnist-z32"], [0.0] * 32)


def test_background_work_runs_one_job_at_a_time_at_low_priority():
    running, most, niceness = [0], [0], []
    lock = threading.Lock()

    def job():
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        niceness.append(os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))
        time.sleep(0.05)
        with lock:
            running[0] -= 1
    threads = [CTX.background.start(job) for _ in range(3)]
    for t in threads:
        t.join(5)
    assert most[0] == 1 and len(niceness) == 3
    assert all(n >= os.getpriority(os.PRIO_PROCESS, 0) + 1 for n in niceness)  # below the server's priority


def test_gradio_cache_is_cleaned_on_a_schedule():
    assert app.demo.delete_cache == app.CACHE_CLEANING == (600, 3600)


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
    shown, download, *menus = page_load(default, SimpleNamespace(session_hash="visitor"))
    assert shown == default and download["visible"] and download["value"].endswith(".zip")
    assert len(menus) == len([f for f in fns if f.name == "_on_load"][0].outputs) - 2
    on_open = {f.name for f in fns if any(block == current and event == "change" for block, event in f.targets)}
    assert {name for name in on_open if not name.startswith("show_")} == {"model_summary", "model_zip", "header_words"}
    for view in app.VIEWS:
        if view is learn:  # draws nothing until its run starts
            continue
        assert any(f.name.startswith(f"show_{view.ID}_") for f in fns), f"{view.ID} draws itself through a gate"


def test_how_it_works_opens_on_the_models_own_encoder_code_decoder_picture(mnist):
    picture = how_it_works.pipeline_picture(MAIN)
    assert picture.shape == (diagram.HEIGHT, diagram.WIDTH, 3)
    digit = data.to_float(CTX.test_images(MAIN)[how_it_works.EXAMPLE:how_it_works.EXAMPLE + 1])[0, 0].numpy()
    tile = picture[60:60 + diagram.DIGIT_SIDE, 20:20 + diagram.DIGIT_SIDE, 0]
    step = diagram.DIGIT_SIDE / 28
    sampled = tile[(np.arange(28) * step + step / 2).astype(int)][:, (np.arange(28) * step + step / 2).astype(int)]
    assert np.abs(sampled / 255 - digit).max() < 0.01  # the test digit itself, on the left
    left, top, right, bottom = diagram.CODE_BOX
    assert (picture[top + 1:bottom, left + 1:right].min(axis=2) < 60).any()  # the code's bars are drawn


def test_the_tour_cannot_step_past_its_ends():
    first, last = tour.show_step(0), tour.show_step(len(tour.STEPS) - 1)
    assert first[4].interactive is False and first[5].interactive is True  # Back, Next
    assert last[4].interactive is True and last[5].interactive is False


def test_the_tours_map_leaves_out_the_codes_past_its_edge_instead_of_piling_them_on_it(mnist):
    emb = CTX.registry.embedding("mnist-z2", common.need_test_images("mnist-z2"))
    extent = latent.plane_extent(emb.mu)
    assert (np.abs(emb.mu) > extent).any()  # the shipped 2-D model has a few such codes
    dots = tour._dots("mnist-z2", MAIN)[:tour.CANVAS]
    coloured = dots.min(axis=2) < 200
    for edge, inner in ((coloured[:, :3], coloured[:, 3:6]), (coloured[:, -3:], coloured[:, -6:-3]),
                        (coloured[:3], coloured[3:6]), (coloured[-3:], coloured[-6:-3])):
        assert edge.sum() <= inner.sum() + 27  # no pile-up: the edge holds about as many dots as the band inside


def test_a_long_interpolation_wraps_into_rows_that_stay_readable(mnist):
    a = interpolate._test_digit(MAIN, 0)[0]
    b = interpolate._test_digit(MAIN, 1)[0]
    strip, *_ = interpolate.interpolate(MAIN, a, b, 16, "linear")
    frame = 28 * 3
    assert strip.shape[0] >= 2 * frame and strip.shape[1] < 9 * frame + 40  # two rows of eight, not one of 16


def test_make_a_digit_makes_that_digit_and_its_sliders_do_what_they_say(mnist):
    codes, grid, check, first, *slider_values = make.make(MAIN, "3", 1.0)
    assert len(codes) == make.MADE and slider_values == [0.0] * 4
    assert grid.shape == images.grid(np.zeros((8, 1, 28, 28)), ncols=4, factor=4).shape  # 2 rows of 4
    assert re.search(r"takes \*\*(all 8|\d of 8)\*\* for a 3", check)
    base = concepts.measure(latent.decode_images(common.get_model(MAIN), torch.tensor(codes[:1])))
    bolder, thinner = (make.change(MAIN, codes, s, 0, 0, 0) for s in (2.0, -2.0))
    thick = [concepts.measure(np.asarray(im, dtype=np.float32)[::8, ::8] / 255)["thickness"][0]
             for im in (bolder, thinner)]  # the 8x enlarged pictures, read back at 28x28
    assert thick[0] > base["thickness"][0] > thick[1]  # "bolder" is bolder, "thinner" thinner
    with pytest.raises(gr.Error, match="variety"):
        make.make(MAIN, "3", 5.0)
    with pytest.raises(gr.Error, match="Make some digits first"):
        make.change(MAIN, None, 1, 0, 0, 0)


def test_a_digit_is_recognised_and_noise_is_not(mnist):
    digit = common.recognise(MAIN, data.to_float(mnist.test_images[3:4]))  # a 0
    assert digit["digit"] == int(mnist.test_labels[3]) and digit["percentile"] > 1
    assert "It looks most like a 0" in common.recognition_words(digit)
    noise = common.recognise(MAIN, torch.rand(1, 1, 28, 28, generator=torch.Generator().manual_seed(0)))
    assert noise["percentile"] < common.UNLIKE_A_DIGIT
    assert "probably not a digit" in common.recognition_words(noise)


def test_a_two_number_model_hands_making_digits_to_the_main_model(mnist):
    codes, _, check, *_ = make.make("mnist-z2", "3", 1.0)
    assert len(codes[0]) == 32 and "Made by **mnist-z32**" in check
    assert make.change("mnist-z2", codes, 0, 1.0, 0, 0).shape == (224, 224)  # changed by the model that made it


def test_the_sliders_change_the_visitors_own_digit_too(mnist):
    digit = common.digit_from_test_set(MAIN, 0)  # a 7
    codes, words, shown, *sliders = make.use_digit(MAIN, digit, "test image #0")
    assert len(codes) == 1 and "test image #0" in words and sliders == [0.0] * 4
    pictures = [np.asarray(make.change(MAIN, codes, 0, s, 0, 0), dtype=np.float32)[::8, ::8] / 255 for s in (-2.0, 2.0)]
    leaning = concepts.measure(np.stack(pictures))["slant"]
    assert leaning[1] > leaning[0]  # "leaning right" leans it right
    # Before the visitor has chosen one, "the Reconstruct tab's digit" is the one that tab opens on.
    first = common.gallery_indices(MAIN)[0]
    codes, words, *_ = make.use_digit(MAIN, None, "")
    assert f"test image #{first}**" in words and len(codes[0]) == 32
    digit, _, source = interpolate.use_current(MAIN, None, "")
    assert digit == common.digit_from_test_set(MAIN, first) and source == f"test image #{first}"


def test_the_main_map_is_made_once_per_model_and_choice_and_ready_before_the_first_visitor(mnist):
    latent_map._maps.clear()
    latent_map.make_ahead(MAIN)
    assert len(latent_map._maps) == 1
    first = latent_map.main_map(MAIN, *latent_map.OPENS_ON)
    assert len(latent_map._maps) == 1 and latent_map.main_map(MAIN, *latent_map.OPENS_ON) is first
    pca = latent_map.main_map(MAIN, "PCA", True)
    assert pca is not first and "PCA of the 32-D" in pca.plot and "UMAP of the 32-D" in first.plot
    assert gr.Plot().postprocess(first) is first  # handed to the page as it is
    assert (MAIN, CTX.registry.entry(MAIN).digest, "PCA", True) in latent_map._maps  # new weights, a new map
    latent_map._maps.clear()  # a bounded number kept: a new one pushes out the one least recently asked for
    for i in range(latent_map.MAPS_KEPT):
        latent_map._maps[("old", str(i), "PCA", True)] = pca
    latent_map.main_map(MAIN, "PCA", True)
    assert len(latent_map._maps) == latent_map.MAPS_KEPT
    assert ("old", "0", "PCA", True) not in latent_map._maps and ("old", "1", "PCA", True) in latent_map._maps
    latent_map._maps.clear()


def test_the_2d_maps_digit_regions_hold_most_of_their_digits(mnist):
    regions = common.class_regions("mnist-z2")
    assert len(regions) == 10 and all(np.allclose(r[0], r[-1]) for r in regions)  # ten closed outlines
    mu = CTX.registry.embedding("mnist-z2", CTX.test_images(MAIN)).mu
    labels = CTX.test_labels(MAIN).numpy()
    c = common.concepts_of("mnist-z2")
    for d in range(10):
        inside = np.linalg.norm(np.linalg.solve(c.chols[d], (mu[labels == d] - c.means[d]).T), axis=0) <= 2
        assert inside.mean() > 0.6, d  # the outline is 2 standard deviations: about 86% for a Gaussian
    figure = common.map_figure("mnist-z2", "PCA", webgl=True)
    assert [s.name for s in figure.layout.shapes] == [f"region {d}" for d in range(10)]
    assert not common.map_figure("mnist-z2", "PCA").layout.shapes  # the small maps stay plain


def test_a_damaged_concepts_file_is_refitted_not_fatal(mnist, tmp_path, monkeypatch, caplog):
    CTX.registry.model("mnist-z32-beta4")  # loaded from its own folder first
    entry = CTX.registry.entry("mnist-z32-beta4")  # a model shipped without concepts: fitted on test digits
    monkeypatch.setattr(entry, "path", str(tmp_path))
    monkeypatch.setattr(entry, "memos", {})
    (tmp_path / "concepts.safetensors").write_bytes(b"not safetensors")
    with caplog.at_level("WARNING", logger="vae_explorer"):
        c = common.concepts_of("mnist-z32-beta4")
    assert "unreadable concepts.safetensors" in caplog.text
    assert len(c.test_bounds) == common.SCORED_DIGITS and c.means.shape == (10, 32)


def test_the_recorded_frames_of_a_model_learning_play_back_in_order(monkeypatch):
    rng = np.random.default_rng(0)
    frames = [{"epochs": 2, "step": s, "images_seen": 128 * s, "epoch": 1 + (s > 4), "loss": 500.0 / s,
               "codes": rng.normal(0, s / 8, (1000, 2)).astype(np.float32),
               "drawn": np.full((224, 224), 20 * s, np.uint8)} for s in range(1, 9)]
    fig, drawn = learn.show_frame(frames, 2)
    title = lambda fig: re.match(r"<span[^>]*>(.*)</span><br>digit:$", fig.layout.legend.title.text).group(1)
    assert title(fig) == "After 384 digits (pass 1 of 2): loss 167" and drawn.shape == (448, 448)
    assert title(learn.show_frame(frames, 39)[0]).startswith("After 1,024 digits (pass 2 of 2)")  # the last
    assert learn.show_frame([], 0) == (gr.skip(), gr.skip())  # nothing recorded yet: nothing changes
    with pytest.raises(gr.Error, match="between 0 and 39"):
        learn.show_frame(frames, -1)
    monkeypatch.setattr(learn, "PLAY_SECONDS", 0.0)
    played = list(learn.play(frames))
    assert [i for *_, i in played] == list(range(8))
    assert [int(d[0, 0]) for _, d, _ in played] == [20 * s for s in range(1, 9)]


def test_any_digit_morphs_into_the_digit_chosen_on_the_map_and_as_an_animation(mnist):
    from PIL import Image

    digit = (mnist.test_images[0].float() / 255).tolist()  # a 7
    fig, words, gif = reconstruct.morph(MAIN, digit, "test image #0", 3)
    walk = [t for t in fig.data if t.name == "morph into a 3"][0]
    assert len(walk.x) == reconstruct.MORPH_STEPS and walk.mode == "lines+markers"
    assert words.startswith("**Test image #0 → a 3** in 16 steps")
    with Image.open(gif) as im:  # forward and back: 16 frames, then 14 on the way back
        assert im.format == "GIF" and im.n_frames == 2 * reconstruct.MORPH_STEPS - 2
    with pytest.raises(gr.Error, match="Pick, draw or upload a digit first"):
        reconstruct.morph(MAIN, None, "", 3)
    with pytest.raises(gr.Error, match="between 0 and 9"):
        reconstruct.morph(MAIN, digit, "test image #0", 12)


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


def test_the_tours_walk_goes_between_typical_digits_of_its_two_classes():
    """The walk's ends are typical of their classes: the test set's first of a class, which it used, can be far
    from it (its first 3 and first 8 are less typical than 90% and 94% of theirs; that 3 is so round that the
    walk from it looked like 8s all the way)."""
    found, labels = common.concepts_of(MAIN), CTX.test_labels(MAIN)
    mu = CTX.registry.embedding(MAIN, CTX.test_images(MAIN)).mu
    for digit in tour.WALK:
        pick, same = tour._typical(MAIN, digit), torch.nonzero(labels == digit)[:, 0].numpy()
        assert int(labels[pick]) == digit
        likeness = found.per_class(torch.from_numpy(mu[same]))[:, digit].numpy()
        mine = found.per_class(torch.from_numpy(mu[[pick]]))[0, digit].item()
        assert (likeness < mine).mean() >= 0.9


def test_a_random_digit_puts_its_sliders_on_their_step():
    torch.manual_seed(1)
    z, _, *values = generate.random_point(MAIN, [0, 1, 2], 1.0)[:5]
    assert all(round(v["value"], 2) == v["value"] for v in values)  # a reviewer saw "-1.301" on a 0.01 slider
    assert [round(z[d], 2) for d in range(3)] == [v["value"] for v in values]  # the digit drawn is the one shown


def test_every_number_of_the_code_is_marked_whatever_the_scale():
    """A square on the axis for each number, grey if unused, blue if in use: drawn as a stub scaled to the
    chart, an unused one was a hair nobody saw next to a tall bar (and once stood above the least used blue
    bars), and at β = 8 the least used blue bars were hairs too."""
    from ui import figures
    kl = np.array([40.0, 0.002, 6.0, 0.0001, 0.01, 0.0])
    active = np.array([True, False, True, False, True, False])
    fig = figures.kl_bars(kl, active)
    bars, squares = fig.data
    assert list(bars.x) == ["1", "3", "5", "2", "4", "6"] and list(bars.y) == sorted(kl, reverse=True)  # true heights
    assert list(squares.x) == list(bars.x) and set(squares.y) == {0} and squares.cliponaxis is False
    assert list(squares.marker.color) == list(bars.marker.color) == ["#0072B2"] * 3 + ["#999"] * 3
    assert list(squares.customdata) == ["in use"] * 3 + ["unused"] * 3  # what a tap on one says
    assert "3 of 6 numbers in use (grey squares: unused)" in fig.layout.title.text


def test_beta_labels_of_models_side_by_side_do_not_cover_each_other():
    """The ladder keeps its labels above its points; a model trained at β = 1.2 beside the ladder's β = 1
    (and one at β = 1 again, on top of it) takes a free place instead of writing over the rung's label."""
    from ui import figures
    ladder = [dict(name=f"rung{b}", beta=b, rate=r, distortion=d, ladder=True)
              for b, r, d in [(0.1, 71.0, 41.3), (0.5, 38.5, 50.6), (1, 23.4, 65.8), (2, 18.7, 71.2),
                              (4, 11.9, 89.9), (8, 5.8, 124.4)]]
    fig = figures.rate_distortion(ladder, "rung1")
    assert [t.textposition for t in fig.data[1:]] == ["top center"] * 6
    mine = [dict(name="mine", beta=1.2, rate=22.6, distortion=66.9), dict(name="again", beta=1, rate=23.4, distortion=65.9)]
    fig = figures.rate_distortion(ladder + mine, "mine")
    places = {t.name: t.textposition for t in fig.data[1:]}
    assert len({places["rung1"], places["mine"], places["again"]}) == 3, places
