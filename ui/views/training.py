"""Train with this beta: fine-tune the nearest shipped model at the slider's beta, live, in the beta view.

One run at a time for everyone (the shared training slot, with a short line), in its own low-priority
process so that every other visitor's sliders stay quick; closing the tab or pressing Cancel stops the
visitor's own run between steps. The app's trained models are capped (see ui/state.py).
"""

from __future__ import annotations

import threading
import time

import gradio as gr

from vae_core import data
from vae_core.config import TrainConfig
from vae_core.worker import TrainingProcess

from .. import figures
from ..common import BETA, Limit, concepts_of, log, refuse, without_folders
from ..guard import visitor_address
from ..page import session_of
from ..state import CTX, MAIN_MODEL, trained_model_name

EPOCHS = Limit(1, 10, 3, 1)
# The main model's network costs 3x the default's per step on a CPU: 20,000 digits an epoch keeps a default run
# (3 epochs) about as long as 3 epochs of all 60,000 took with the default network.
IMAGES = Limit(500, 60000, 20000, 500)
NO_TRAINING_DATA = ("Training needs the 60,000 MNIST training digits, which this app did not find: start it with "
                    "--data-dir DIR or set VAE_DATA_DIR to a folder holding the four MNIST files.")
FINE_TUNE_LR = 5e-4  # a quarter of the default recipe's: the run starts from a trained model
PLOT_EVERY_SECONDS = 1.0  # a point on the loss curve at most this often: more would flood the page


def render(page, beta: gr.Slider):
    """The trainer's controls under the β slider; returns the training's event, for the view to show the new
    model when it ends."""
    gr.Markdown("Fine-tunes the nearest shipped model at the slider's β for a few epochs "
                "(about 30 s an epoch of 20,000 digits on a laptop CPU, seconds on a GPU). One run at a time "
                "for everyone; closing the tab cancels yours.", elem_classes="note")
    with gr.Row():
        epochs = EPOCHS.slider("epochs")
        images = IMAGES.slider("training images")
    with gr.Row():
        train_btn = gr.Button("Train with this β", variant="primary")
        cancel_btn = gr.Button("Cancel", variant="stop")
    status = gr.Markdown()
    plot = gr.Plot(show_label=False)

    trained = train_btn.click(train_beta, [beta, epochs, images], [status, plot], api_name="train",
                              concurrency_limit=3)
    page.models_added.append(trained)
    cancel_btn.click(cancel_training, None, status, api_name="cancel_training")
    page.demo.unload(visitor_left)
    return trained


def train_beta(beta: float, epochs: float, images: float, request: gr.Request, progress=gr.Progress()):
    """Retrain at this beta, warm-started from the nearest ladder model; streams status and the loss curve."""
    beta = BETA.check(beta, "β")
    epochs = int(EPOCHS.check(epochs, "epochs"))
    images = int(IMAGES.check(images, "training images"))
    if CTX.mnist() is None:
        raise refuse(NO_TRAINING_DATA)
    if not CTX.ladder():
        raise refuse("There is no shipped model to start from: none was found in checkpoints/.")
    owner = session_of(request)
    cancel = yield from enter_slot(request, lambda message: (message, None))
    if cancel is None:
        return
    try:
        yield from _run_training(CTX.nearest_ladder(beta, owner), beta, epochs, images, cancel, progress, owner)
    finally:
        CTX.slot.leave()


def enter_slot(request: gr.Request, outputs):
    """Take the one training slot that all visitors share: a generator that yields outputs(message) while
    in its short line, and returns the visitor's cancel event once the run may start (the caller then calls
    CTX.slot.leave() when it ends), or None when cancelled in line."""
    cancel = CTX.cancels.setdefault(session_of(request), threading.Event())
    cancel.clear()
    place = CTX.slot.try_enter(visitor_address(request))
    if place is None:
        raise refuse("The trainer is busy with other runs, and its line is full or already holds one from your "
                     "network. Try again in a few minutes.")
    if place.position:
        try:
            yield outputs(f"Waiting for the trainer: {place.position} run(s) ahead of yours…")
        except GeneratorExit:  # the page went away while in line: its place goes to the next
            CTX.slot.give_up(place)
            raise
        if not CTX.slot.wait_turn(place, cancel):
            yield outputs("Cancelled before it started.")
            return None
    return cancel


def _run_training(start: dict, beta, epochs, images, cancel, progress, owner: str):
    CTX.make_room(owner)
    base = CTX.registry.entry(start["name"])
    name = trained_model_name(f"{MAIN_MODEL}-beta{beta:g}")
    out = CTX.registry.user_dir / name
    cfg = TrainConfig(epochs=epochs, beta=beta, lr=FINE_TUNE_LR, val_size=0, train_limit=images)
    # The app's models keep no optimizer state: it would triple their size and is never used here.
    run_info = {"preset": "default", "init_from": base.path, "save_optimizer": False,
                "command": f"app: train with beta {beta:g}"}
    CTX.training_now.add(name)
    try:
        run = TrainingProcess(CTX.registry.model(start["name"]).cfg, cfg, data.resolve_data_dir(CTX.data_dir),
                              out, init_from=base.path, run_info=run_info)
        yield f"Training {name} from {start['name']} (β = {start['beta']:g})…", None
        history: list[dict] = []
        yield from _progress(run.updates(cancel_when=cancel.is_set), history, progress, epochs)
    finally:
        CTX.training_now.discard(name)
    outcome = run.outcome
    if "error" in outcome:
        yield error_sentence(outcome), None
        return
    if not outcome["epochs"]:
        yield "Cancelled before the first epoch finished; nothing was saved.", None
        return
    CTX.registry.add(out, owner=owner)
    if CTX.test_images(name) is not None:  # its digit classes and scores, ready before Reconstruct asks for them
        CTX.background.start(concepts_of, name)
    stopped = " (cancelled: kept the finished epochs)" if outcome["cancelled"] else ""
    curve = figures.loss_curve(history, "Loss while training") if history else None
    shown = " The pictures above show it now." if CTX.nearest_ladder(beta, owner)["name"] == name else ""
    yield (f"Done{stopped}: **{name}** joined the model list after {outcome['epochs']} epoch(s) "
           f"in {outcome['seconds']:.0f} s on {outcome['device']}.{shown}"), curve


def error_sentence(outcome: dict) -> str:
    """The page's sentence for a run whose process ended with an error (the whole error goes to the log)."""
    log.warning("training stopped: %s", outcome["error"])
    return f"Training stopped: {without_folders(outcome['error'])}. Nothing was added."


def _progress(updates, history: list, progress, epochs: int):
    """Yield (status, figure) while the run trains."""
    last = 0.0
    for p in updates:
        if p["kind"] == "step" and time.monotonic() - last < PLOT_EVERY_SECONDS:
            continue
        last = time.monotonic()
        history.append({"x": p["epoch"] - 1 + ((p["step"] - 1) % p["steps_per_epoch"] + 1) / p["steps_per_epoch"],
                        "loss": p["loss"], "reconstruction": p["reconstruction"], "kl": p["kl"]})
        progress(history[-1]["x"] / epochs, desc=f"epoch {p['epoch']}/{epochs}")
        yield (f"Training: epoch {p['epoch']} of {epochs}, loss {p['loss']:.1f} nats "
               f"({p['images_per_second']:.0f} images/s)."), figures.loss_curve(history, "Loss while training")


def cancel_training(request: gr.Request):
    event = CTX.cancels.get(session_of(request))
    if event is not None:
        event.set()
    return "Cancelling after the current step…"


def visitor_left(request: gr.Request):
    """A visitor who closes the tab cancels their training run."""
    event = CTX.cancels.pop(session_of(request), None)
    if event is not None:
        event.set()
