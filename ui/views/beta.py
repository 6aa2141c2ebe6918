"""KL weight beta: switch between models trained at beta = 0.1 ... 8, see rate against distortion and
posterior collapse, retrain at any beta (with the app's trainer, ui/trainer.py), and compare two models
side by side."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import gradio as gr
import numpy as np

from vae_core.apart import with_model
from vae_core.checkpoints import CheckpointError
from vae_core.evaluate import ACTIVE_UNIT_THRESHOLD, rate_and_distortion

from vae_core.config import TrainConfig
from vae_core.train import Progress
from vae_core.worker import Outcome

from .. import figures, trainer
from ..common import (BETA, CONTEXT_POINTS, SMALL_MAP, Limit, digits_image, get_model, log, map_figure, model_panels,
                      need_test_images, no_data, refuse)
from ..page import session_of
from ..state import CTX, MAIN_MODEL, trained_model_name
from ..training import NO_TRAINING_DATA, cancel_button, finished_model, follow, in_words, join

TITLE, ID = "KL weight β", "beta"
CSS = """
@media (max-width: 640px) {
  /* The pictures just below the slider, before the words about β (after them, three screens below it). */
  #beta-row { flex-direction: column; }
  #beta-row > * { width: 100%; }
  #beta-controls { display: contents; }
  #beta-text { order: 2; }
}
"""
RD_IMAGES = 2000  # test digits behind each model's rate and distortion
EPOCHS = Limit(1, 10, 2, 1)
IMAGES = Limit(500, 60000, 3000, 500)  # a default run ends within a minute on a laptop's CPU
FINE_TUNE_LR = 5e-4  # a quarter of the default recipe's: the run starts from a trained model
PLOT_EVERY_SECONDS = 1.0  # a point on the loss curve at most this often: more would flood the page

TEXT = r"""
**What β does.** Training balances two wishes: *draw every digit back exactly*, and *keep the codes
tidy*, bunched near the middle like a bell curve. β is how much the second wish counts.

* **Small β** (0.1): sharp copies, but codes spread out with gaps between them, so random codes often
  give something that is not a digit.
* **Large β** (4, 8): codes crowd into the middle; new digits are smooth but blurry, and numbers of
  the code the model can spare are given up (grey squares in the chart below: unused).

(In symbols: the loss is reconstruction + β × KL, summed per image; β = 1 is the ELBO. See the
glossary in *How it works*.)

This view has models of its own: the same network (32 numbers per digit) trained at β = 0.1, 0.5, 1, 2,
4 and 8, whatever the model menu at the top says; the slider shows the nearest one. *Train with this β*
makes a new one at exactly the slider's value.
"""


def render(page) -> None:
    with gr.Row(elem_id="beta-row"):
        with gr.Column(scale=1, min_width=260, elem_id="beta-controls"):
            beta = BETA.slider("β (KL weight)")
            head = gr.Markdown()
            gr.Markdown(TEXT, elem_classes="note", elem_id="beta-text")  # on a phone, below the pictures
        with gr.Column(scale=2, elem_id="beta-pictures"):
            recon = digits_image(label="8 test digits (top) and their reconstructions (bottom)")
            samples = digits_image(label="16 new digits from random codes (the same codes for every β)")
    with gr.Row():
        rd_plot = gr.Plot(show_label=False)
        kl_plot = gr.Plot(show_label=False)
    beta_map = gr.Plot(show_label=False)
    with gr.Accordion("Train with this β", open=False):
        trained = render_training(page, beta)
    with gr.Accordion("Compare two models on the same digits", open=False):
        with gr.Row():
            model_a = page.model_menu(value=MAIN_MODEL if MAIN_MODEL in CTX.registry.names() else None,
                                      label="model A")
            # B opens on the family's largest β: the same digits, the most visible difference.
            rungs = ladder()
            model_b = page.model_menu(value=max(rungs, key=lambda r: r.beta).name if rungs else None,
                                      label="model B")
            compare_btn = gr.Button("Compare")
        table = gr.Markdown()
        with gr.Row():
            recon_a = digits_image(label="A: digits and reconstructions")
            recon_b = digits_image(label="B: digits and reconstructions")
        with gr.Row():
            samples_a = digits_image(label="A: new digits from random codes")
            samples_b = digits_image(label="B: new digits from random codes")

    outputs = [head, recon, samples, beta_map, rd_plot, kl_plot]
    page.on_show(show_beta, [beta], outputs, per_model=False)
    beta.release(show_beta, beta, outputs, api_name="show_beta")
    trained.then(show_beta, beta, outputs, api_name=False)  # a model trained at the slider's β: show it
    compare_btn.click(compare, [model_a, model_b], [recon_a, samples_a, recon_b, samples_b, table],
                      api_name="compare")


@dataclass(frozen=True)
class Rung:
    """A model of the β ladder: the main model's network and dataset, trained at another β."""

    name: str
    beta: float
    shipped: bool


def ladder(owner: str | None = None) -> list[Rung]:
    """The ladder's models that `owner` may see (the shipped ones, and their own), by β."""
    if MAIN_MODEL not in CTX.registry.names():
        return []
    family, dataset = CTX.registry.entry(MAIN_MODEL).config["model"], CTX.kind(MAIN_MODEL).dataset
    rungs = [Rung(n, float(e.config.get("beta", 1.0)), e.shipped) for n in CTX.registry.names()
             if (e := CTX.registry.entry(n)).config["model"] == family and CTX.kind(n).dataset == dataset
             and CTX.visible(n, owner)]
    return sorted(rungs, key=lambda r: (r.beta, not r.shipped))


def nearest(beta: float, owner: str | None = None) -> Rung:
    """The ladder's model whose β is nearest on a log scale, a shipped one first; the ladder is not empty."""
    return min(ladder(owner), key=lambda r: (abs(math.log(r.beta) - math.log(beta)), not r.shipped))


def render_training(page, beta: gr.Slider):
    """The trainer's controls under the β slider; returns the training's event, for the view to show the new
    model when it ends."""
    gr.Markdown("Fine-tunes the nearest shipped model at the slider's β. The trainer serves everyone in turn; "
                "closing the tab cancels your run.", elem_classes="note")
    with gr.Row(elem_id="beta-train-settings"):
        epochs = EPOCHS.slider("epochs", min_width=200)
        images = IMAGES.slider("training images", min_width=200)
    estimate = gr.Markdown(how_long(EPOCHS.default, IMAGES.default), elem_classes="note", elem_id="beta-estimate")
    with gr.Row():
        train_btn = gr.Button("Train with this β", variant="primary")
        cancel_btn = gr.Button("Cancel", variant="stop")
    status = gr.Markdown()
    plot = gr.Plot(show_label=False)
    for slider in (epochs, images):
        slider.change(how_long, [epochs, images], estimate, api_name=False, show_progress="hidden")
    trained = train_btn.click(train_beta, [beta, epochs, images], [status, plot], api_name="train",
                              concurrency_limit=trainer.LINE_SIZE)
    page.models_added.append(trained)
    cancel_button(cancel_btn, status)
    return trained


def how_long(epochs: float, images: float) -> str:
    """The run's length before it starts, from the pace of runs here."""
    seconds = trainer.TRAINER.seconds_for("beta", int(images) * int(epochs))
    when = f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.0f} minutes"
    return f"About {when} on this machine once it starts ({int(images):,} digits × {int(epochs)} epochs)."


async def train_beta(beta: float, epochs: float, images: float, request: gr.Request):
    """Retrain at this beta, warm-started from the nearest ladder model; streams status and the loss curve."""
    beta = BETA.check(beta, "β")
    epochs = int(EPOCHS.check(epochs, "epochs"))
    images = int(IMAGES.check(images, "training images"))
    if CTX.mnist() is None:
        raise refuse(NO_TRAINING_DATA)
    owner = session_of(request)
    if not ladder(owner):
        raise refuse("There is no shipped model to start from: none was found in checkpoints/.")
    start = nearest(beta, owner)
    base, name = CTX.registry.entry(start.name), trained_model_name(f"{MAIN_MODEL}-beta{beta:g}")
    cfg = TrainConfig(epochs=epochs, beta=beta, lr=FINE_TUNE_LR, val_size=0, train_limit=images)
    # The app's models keep no optimizer state: it would triple their size and is never used here.
    run_info = {"preset": "default", "init_from": base.path, "save_optimizer": False,
                "command": f"app: train with beta {beta:g}"}
    ticket = join(request, "beta", name, CTX.registry.model(start.name).cfg, cfg, images, init_from=base.path,
                  run_info=run_info)
    history, last = [], 0.0
    async for news in follow(ticket):
        if isinstance(news, trainer.Waiting):
            yield f"Your run is {in_words(news)}.", gr.skip()
        elif isinstance(news, trainer.Running):
            steps = [u for u in news.updates if isinstance(u, Progress) and u.kind == "step"]
            if steps and time.monotonic() - last >= PLOT_EVERY_SECONDS:
                last, p = time.monotonic(), steps[-1]
                history.append({"x": p.epoch - 1 + ((p.step - 1) % p.steps_per_epoch + 1) / p.steps_per_epoch,
                                "loss": p.loss, "reconstruction": p.reconstruction, "kl": p.kl})
                yield (f"Training {name} from {start.name} (β = {start.beta:g}): epoch {p.epoch} of {epochs}, "
                       f"loss {p.loss:.1f} nats ({p.images_per_second:.0f} images/s)."), \
                    figures.loss_curve(history, "Loss while training")
            elif not history:
                yield f"Training {name} from {start.name} (β = {start.beta:g}): starting…", gr.skip()
        else:
            yield _trained(news.outcome, name, beta, owner), \
                figures.loss_curve(history, "Loss while training") if history else None


def _trained(outcome: Outcome, name: str, beta: float, owner: str) -> str:
    if outcome.error is not None or not outcome.epochs:
        return finished_model(outcome, name)
    stopped = " (cancelled: kept the finished epochs)" if outcome.cancelled else ""
    shown = " The pictures above show it now." if nearest(beta, owner).name == name else ""
    return (f"Done{stopped}: **{name}** joined the model list after {outcome.epochs} epoch(s) "
            f"in {outcome.seconds:.0f} s on {outcome.device}.{shown}")


def warm_up(name: str | None) -> None:
    """Start-up work in the background: the ladder's codes and its place on the rate-distortion chart."""
    for rung in ladder():
        CTX.registry.embedding(rung.name, need_test_images(rung.name))
    rd_points()


def rate_distortion_of(name: str) -> dict:
    """A model's rate and distortion on the first RD_IMAGES test digits, computed once per model."""
    test = need_test_images(name)[:RD_IMAGES]
    path = CTX.registry.entry(name).path  # seconds of a core: apart, where requests need not wait for it
    return CTX.registry.shipped_figures(name, "rate-distortion", test,
                                        lambda model: with_model(rate_and_distortion, path, test))


def rd_points(owner: str | None = None) -> list[dict]:
    """One point per model of the ladder that loads: a broken one is left out, never the whole chart."""
    points = []
    for rung in ladder(owner):
        try:
            points.append({"name": rung.name, "beta": rung.beta, "ladder": rung.shipped,
                           **rate_distortion_of(rung.name)})
        except CheckpointError as e:
            log.warning("rate-distortion chart: left out %s (%s)", rung.name, e)
    return points


def show_beta(beta: float, request: gr.Request):
    beta = BETA.check(beta, "β")
    owner = session_of(request)
    if not ladder(owner):
        raise refuse("No β ladder models were found in checkpoints/.")
    pick = nearest(beta, owner)
    name = pick.name
    if CTX.test_images(name) is None:
        return f"β = {beta:g}: showing **{name}** (β = {pick.beta:g}).\n\n{no_data(name)}", None, None, None, None, None
    recon, samples = model_panels(name)
    exact = "exactly this β" if abs(pick.beta - beta) < 1e-9 else f"the nearest trained β = {pick.beta:g}"
    head = f"Slider β = {beta:g}: showing **{name}**, {exact}."
    rd = figures.rate_distortion(rd_points(owner), name)
    return head, recon, samples, map_figure(name, "PCA", height=SMALL_MAP, points=CONTEXT_POINTS), rd, _kl_figure(name)


def _kl_figure(name: str):
    """KL bars from the model's own test figures where it has them, so the count matches its card."""
    test = CTX.registry.entry(name).metrics.get("test", {})
    if "kl_per_dim" in test and "mu_variance_per_dim" in test:
        variance = np.asarray(test["mu_variance_per_dim"])
        return figures.kl_bars(np.asarray(test["kl_per_dim"]), variance > ACTIVE_UNIT_THRESHOLD)
    emb = CTX.registry.embedding(name, need_test_images(name))
    return figures.kl_bars(emb.kl_per_dim, emb.mu.var(0) > ACTIVE_UNIT_THRESHOLD)


def compare(name_a: str, name_b: str):
    rows, out = [], []
    for name in (name_a, name_b):
        get_model(name)  # a clear message for a missing or broken model
        out += model_panels(name)
        e = CTX.registry.entry(name)
        rd = rate_distortion_of(name)
        rows.append(f"| {name} | {e.config.get('beta', 1):g} | {e.config['model']['latent_dim']} | "
                    f"{rd['rate']:.1f} | {rd['distortion']:.1f} |")
    table = ("| model | β | numbers per digit | codes stray from the bell curve (KL, nats) | copies miss the digit "
             "(nats) |\n|---|---|---|---|---|\n"
             + "\n".join(rows))
    kinds = [CTX.kind(n) for n in (name_a, name_b)]
    if kinds[0].dataset != kinds[1].dataset:
        table += (f"\n\nThese two models learnt different pictures ({kinds[0].title} and {kinds[1].title}), so "
                  "their numbers do not compare: choose two models of the same pictures.")
    return (*out, table)
