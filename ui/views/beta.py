"""KL weight beta: switch between models trained at beta = 0.1 ... 8, see rate against distortion and
posterior collapse, retrain at any beta (training.py), and compare two models side by side."""

from __future__ import annotations

import gradio as gr
import numpy as np

from vae_core.checkpoints import CheckpointError
from vae_core.evaluate import ACTIVE_UNIT_THRESHOLD, rate_and_distortion

from .. import figures
from ..common import BETA, CONTEXT_POINTS, get_model, log, map_figure, model_panels, need_test_images, no_data, refuse
from ..page import session_of
from ..state import CTX, MAIN_MODEL
from . import training

TITLE, ID = "KL weight β", "beta"
RD_IMAGES = 2000  # test digits behind each model's rate and distortion
MAP_HEIGHT = 380

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
            recon = gr.Image(label="8 test digits (top) and their reconstructions (bottom)",
                             elem_classes="digit", interactive=False)
            samples = gr.Image(label="16 new digits from random codes (the same codes for every β)",
                               elem_classes="digit", interactive=False)
    with gr.Row():
        rd_plot = gr.Plot(show_label=False)
        kl_plot = gr.Plot(show_label=False)
    beta_map = gr.Plot(show_label=False)
    with gr.Accordion("Train with this β", open=False):
        trained = training.render(page, beta)
    with gr.Accordion("Compare two models on the same digits", open=False):
        with gr.Row():
            model_a = page.model_menu(value=MAIN_MODEL if MAIN_MODEL in CTX.registry.names() else None,
                                      label="model A")
            # B opens on the family's largest β: the same digits, the most visible difference.
            ladder = CTX.ladder()
            model_b = page.model_menu(value=max(ladder, key=lambda d: d["beta"])["name"] if ladder else None,
                                      label="model B")
            compare_btn = gr.Button("Compare")
        table = gr.Markdown()
        with gr.Row():
            recon_a = gr.Image(label="A: digits and reconstructions", elem_classes="digit", interactive=False)
            recon_b = gr.Image(label="B: digits and reconstructions", elem_classes="digit", interactive=False)
        with gr.Row():
            samples_a = gr.Image(label="A: new digits from random codes", elem_classes="digit", interactive=False)
            samples_b = gr.Image(label="B: new digits from random codes", elem_classes="digit", interactive=False)

    outputs = [head, recon, samples, beta_map, rd_plot, kl_plot]
    page.on_show(show_beta, [beta], outputs, per_model=False)
    beta.release(show_beta, beta, outputs, api_name="show_beta")
    trained.then(show_beta, beta, outputs, api_name=False)  # a model trained at the slider's β: show it
    compare_btn.click(compare, [model_a, model_b], [recon_a, samples_a, recon_b, samples_b, table],
                      api_name="compare")


def rate_distortion_of(name: str) -> dict:
    """A model's rate and distortion on the first RD_IMAGES test digits, computed once per model."""
    test = need_test_images(name)[:RD_IMAGES]
    return CTX.registry.memo(name, "rate-distortion", lambda model: rate_and_distortion(model, test))


def rd_points(owner: str | None = None) -> list[dict]:
    """One point per model of the ladder that loads: a broken one is left out, never the whole chart."""
    points = []
    for d in CTX.ladder(owner):
        try:
            points.append({"name": d["name"], "beta": d["beta"], "ladder": d["shipped"], **rate_distortion_of(d["name"])})
        except CheckpointError as e:
            log.warning("rate-distortion chart: left out %s (%s)", d["name"], e)
    return points


def show_beta(beta: float, request: gr.Request):
    beta = BETA.check(beta, "β")
    owner = session_of(request)
    if not CTX.ladder(owner):
        raise refuse("No β ladder models were found in checkpoints/.")
    pick = CTX.nearest_ladder(beta, owner)
    name = pick["name"]
    if CTX.test_images(name) is None:
        return f"β = {beta:g}: showing **{name}** (β = {pick['beta']:g}).\n\n{no_data(name)}", None, None, None, None, None
    recon, samples = model_panels(name)
    exact = "exactly this β" if abs(pick["beta"] - beta) < 1e-9 else f"the nearest trained β = {pick['beta']:g}"
    head = f"Slider β = {beta:g}: showing **{name}**, {exact}."
    rd = figures.rate_distortion(rd_points(owner), name)
    return head, recon, samples, map_figure(name, "PCA", height=MAP_HEIGHT, points=CONTEXT_POINTS), rd, _kl_figure(name)


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
