"""Watch a model learn: a new 2-number model trains from nothing on a few thousand digits, and the page
shows its map sorting itself out (where it puts 1,000 test digits) and its drawings sharpening, frame by
frame; afterwards a slider and a Play button go over the recorded frames. It takes the training slot
that all visitors share, like the beta view's training, and its model joins the visitor's model list.
"""

from __future__ import annotations

import time

import gradio as gr
import numpy as np

from vae_core import data, images, watch
from vae_core.config import TrainConfig
from vae_core.model import ModelConfig
from vae_core.worker import TrainingProcess

from .. import figures
from ..common import Limit, concepts_of, need_test_images, refuse
from ..page import session_of
from ..state import CTX, trained_model_name
from .training import NO_TRAINING_DATA, cancel_training, enter_slot, error_sentence

TITLE, ID = "Watch it learn", "learn"
DIGITS = Limit(1000, 10000, 3000, 500)  # training digits: 3,000 x 10 passes take about 25 s on 2 CPU cores
PASSES = Limit(1, 20, 10, 1)
FRAMES = 40  # snapshots asked for over a run (the first steps are closer together; a few coincide)
MOMENT = Limit(0, FRAMES - 1, 0, 1)  # which recorded frame to show (a run records at most FRAMES)
WATCHED = 1000  # test digits whose codes are drawn on the map
SHOW_EVERY_SECONDS = 0.5  # while training, a new frame on the page at most this often
PLAY_SECONDS = 0.3  # between frames when playing them back
RANGE = watch.EXTENT + 1.0  # the map's half-width: fixed, so that frames compare
SKIP = [gr.skip()] * 6  # every output but the status line left as it is


def render(page) -> None:
    gr.Markdown("**Watch a model learn from nothing.** A new model starts as random numbers: it puts every "
                "digit in the same grey blob and draws only fog. Press *Start learning*: it studies a few thousand "
                "handwritten digits, a few times over, and you watch the digits sort themselves into groups "
                "(one dot per test digit, coloured by what it really is) and the fog turn into digits "
                "(what it draws at each spot). Its *loss* says how badly it draws digits back: it falls as it "
                "learns. About half a minute here. It always learns handwritten digits, whichever model the "
                "menu at the top shows.", elem_classes="note")
    with gr.Row():
        digits = DIGITS.slider("digits to learn from")
        passes = PASSES.slider("passes over them")
    with gr.Row():
        start_btn = gr.Button("Start learning", variant="primary", elem_id="learn-start")
        cancel_btn = gr.Button("Cancel", variant="secondary")
    status = gr.Markdown(elem_id="learn-status")
    with gr.Row(visible=False) as stage:  # no empty frames before the first picture
        plot = gr.Plot(show_label=False, elem_id="learn-map", scale=3)
        drawn = gr.Image(label="what it draws at each spot of the map", elem_classes="digit", interactive=False,
                         elem_id="learn-drawn", scale=2, min_width=200)
    with gr.Row(visible=False) as replay:
        moment = MOMENT.slider("moment in its training: drag back and forth", elem_id="learn-moment", scale=4)
        play_btn = gr.Button("▶ Play it again", elem_id="learn-play", scale=1, min_width=160)
    frames = gr.State([])

    page.models_added.append(start_btn.click(
        learn, [digits, passes], [status, stage, plot, drawn, frames, moment, replay], api_name="watch_learn",
        concurrency_limit=3, show_progress="hidden"))
    cancel_btn.click(cancel_training, None, status, api_name=False)
    moment.input(show_frame, [frames, moment], [plot, drawn], api_name=False, show_progress="hidden",
                 trigger_mode="always_last")
    play_btn.click(play, frames, [plot, drawn, moment], api_name=False, show_progress="hidden")


def learn(digits: float, passes: float, request: gr.Request):
    """Train a new 2-D model from scratch, streaming its frames; then offer them for replay."""
    n, epochs = int(DIGITS.check(digits, "digits to learn from")), int(PASSES.check(passes, "passes"))
    if CTX.mnist() is None:
        raise refuse(NO_TRAINING_DATA)
    watched = need_test_images(None)[:WATCHED]  # MNIST's, as it learns digits
    owner = session_of(request)
    cancel = yield from enter_slot(request, lambda message: [message, *SKIP])
    if cancel is None:
        return
    try:
        yield from _run(n, epochs, watched, cancel, owner)
    finally:
        CTX.slot.leave()


def _run(n: int, epochs: int, watched, cancel, owner: str):
    CTX.make_room(owner)
    name = trained_model_name("learn-z2")
    out = CTX.registry.user_dir / name
    cfg = TrainConfig(epochs=epochs, val_size=0, train_limit=n)
    run_info = {"preset": "default", "save_optimizer": False, "command": f"app: watch a model learn ({n} digits)"}
    t0, shown, recorded = time.monotonic(), 0.0, []
    yield ("Starting a new model (a few seconds)…", gr.update(visible=False), None, None, [], 0,
           gr.update(visible=False))
    CTX.training_now.add(name)
    try:
        run = TrainingProcess(ModelConfig(latent_dim=2), cfg, data.resolve_data_dir(CTX.data_dir), out,
                              run_info=run_info, watch=(watched.numpy(), FRAMES))
        for update in run.updates(cancel_when=cancel.is_set):
            if update["kind"] != "frame":
                continue
            recorded.append(_frame(update, epochs))
            if time.monotonic() - shown >= SHOW_EVERY_SECONDS:
                shown = time.monotonic()
                yield (f"Learning… pass {update['epoch']} of {epochs}, {update['images_seen']:,} digits "
                       f"studied so far ({time.monotonic() - t0:.0f} s).", gr.update(visible=True),
                       *_draw(recorded[-1]), *SKIP[:3])
    finally:
        CTX.training_now.discard(name)
    outcome = run.outcome
    if "error" in outcome:
        yield error_sentence(outcome), *SKIP
        return
    replay = [recorded, gr.update(value=len(recorded) - 1, maximum=len(recorded) - 1),
              gr.update(visible=len(recorded) > 1)]
    last = (gr.update(visible=bool(recorded)), *(_draw(recorded[-1]) if recorded else (None, None)))
    if not outcome["epochs"]:
        yield "Cancelled before the first pass ended: no model was kept. The frames so far:", *last, *replay
        return
    CTX.registry.add(out, owner=owner)
    CTX.background.start(concepts_of, name)  # its digit classes, ready before Reconstruct asks for them
    stopped = " (cancelled: it kept the passes it finished)" if outcome["cancelled"] else ""
    yield (f"**Done in {time.monotonic() - t0:.0f} s**{stopped}. Nobody told the model which digit is which: the "
           f"map shows how far it got in putting digits of a kind near each other (more digits or more passes "
           f"sort them better). Drag the slider or press *Play* to "
           f"watch it again. It is in the model menu as **{name}**: open *Latent map* to explore it."), *last, *replay


def _frame(update: dict, epochs: int) -> dict:
    """A recorded frame as kept in the visitor's session: codes, drawing, and where in the run it was."""
    return {"epochs": epochs, **{k: update[k] for k in ("step", "images_seen", "epoch", "loss", "codes", "drawn")}}


def _draw(frame: dict) -> tuple:
    """A frame's map and drawing."""
    labels = CTX.test_labels(None)[:len(frame["codes"])].numpy()
    fig = figures.latent_map(np.clip(frame["codes"], -RANGE, RANGE), labels,
                             f"After {frame['images_seen']:,} digits (pass {frame['epoch']} of {frame['epochs']}): "
                             f"loss {frame['loss']:.0f}", "code number 1", "code number 2",
                             marker_size=5, title_size=13)
    fig.update_xaxes(range=[-RANGE, RANGE], constrain="domain")
    fig.update_yaxes(range=[-RANGE, RANGE], scaleanchor="x", scaleratio=1, constrain="domain")
    fig.update_layout(transition=dict(duration=250, easing="cubic-in-out"), uirevision=None)
    return fig, images.upscale(frame["drawn"], 2)


def show_frame(frames: list, i: float):
    i = int(MOMENT.check(i, "the moment"))
    if not frames:
        return gr.skip(), gr.skip()
    return _draw(frames[min(i, len(frames) - 1)])


def play(frames: list):
    """The recorded frames again, one every PLAY_SECONDS, the slider following."""
    for i, frame in enumerate(frames):
        yield *_draw(frame), i
        time.sleep(PLAY_SECONDS)
