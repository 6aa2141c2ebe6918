"""How it works: a picture of the app's own model at work, the ideas in plain words, a glossary of
every term the app uses, and the formulas on demand."""

from __future__ import annotations

import gradio as gr
import numpy as np
import torch

from vae_core import data, latent
from vae_core.evaluate import ACTIVE_UNIT_THRESHOLD

from .. import diagram
from ..common import digits_image, get_model, model_panels, need_test_images
from ..state import CTX

TITLE, ID = "How it works", "how"
CSS = """
/* The glossary's words wrap between words (hyphenated if they must), never cut anywhere ("reconstruc|tion"). */
#glossary td, #glossary th { overflow-wrap: normal; word-break: normal; hyphens: auto; }
@media (max-width: 640px) {
  /* the diagram at a readable size, swiped sideways from its left edge (centred, both ends were cut off) */
  #how-picture .image-container, #how-picture .image-container > * { overflow-x: auto; justify-content: flex-start; }
  #how-picture img { min-width: 680px; max-width: none; object-position: left; }
  #how-picture::after { content: "◀ swipe sideways for the whole picture ▶"; display: block; text-align: center;
                        font-size: 0.85rem; color: var(--body-text-color-subdued); padding: 4px 0; }
}
"""
LATEX = [{"left": "$$", "right": "$$", "display": True}, {"left": "$", "right": "$", "display": False}]
EXAMPLE = 0  # the test digit the picture follows through the model

PLAIN = """
### In plain words

An **autoencoder** is two networks trained together. The **encoder** looks at a digit (784 pixels) and
squeezes it into a few numbers, its **code**. The **decoder** gets only those numbers and must draw the
digit back. To succeed, the code has to keep what matters: which digit, how slanted, how thick.

A **variational** autoencoder adds one rule: codes must stay near the middle of the map, spread like a
bell curve, with no big gaps. That is why *any* point of the map decodes to something digit-like, and
why you can walk from one digit to another, or pick random numbers and get a new digit. The **KL
weight β** says how strictly that rule is enforced (see the *KL weight β* tab).
"""

GLOSSARY = r"""
| word or symbol | what it means here |
|---|---|
| **code**, **latent** numbers, $z$ | the few numbers the encoder gives a digit (2 or 32 here) |
| **latent space**, **map** | all possible codes; every digit is a point in it |
| **encoder** | the network that turns a digit into its code |
| **decoder** | the network that draws a digit from a code |
| **reconstruction** | what the decoder draws back from the code of a digit |
| **prior**, $\mathcal{N}(0, I)$ | the bell curve that codes are kept close to; random draws from it give new digits |
| $\mu$ (mu) | the code the encoder thinks most likely for a digit: the dot on the map |
| $\sigma$ (sigma) | how unsure the encoder is about each number: "number 1 is 0.5 ± 0.1" means $\mu$ = 0.5, $\sigma$ = 0.1 |
| $\varepsilon$ (epsilon) | a random nudge: a code is drawn as $\mu + \sigma \cdot \varepsilon$ |
| $q(z \mid x)$ | the encoder's answer for digit $x$: a small cloud of likely codes around $\mu$ |
| **KL**, **KL weight β** | how far the codes stray from the bell curve, and how much training cares about it |
| **ELBO** | the score training improves: "draws digits back well" minus "codes stray from the bell curve" |
| **nats**, **surprise** | the unit of that score (like bits, with natural logarithms); the model card's "surprise" is how many nats a new test digit costs the model (its negative log-likelihood): lower is better |
| **numbers in use** (active units) | numbers of the code that change from digit to digit; the others are ignored |
| **PCA** | a way to flatten many numbers to two for a picture, keeping the biggest differences (its "directions") |
| **UMAP** | another way, which keeps neighbours together but bends distances |
| **temperature** | Generate's "how far random codes stray from the middle": 0 is the centre, 1 the bell curve itself |
"""

MATHS = r"""
### The idea

A **variational autoencoder** learns to describe each image $x$ with a few numbers $z$ (its *code*)
and to draw images back from codes. It assumes every digit was made by picking $z$ from a simple
*prior* $p(z) = \mathcal{N}(0, I)$ and passing it through a **decoder** $p_\theta(x \mid z)$.

The **encoder** answers the reverse question, *which codes could have made this image?*, with a
distribution rather than a single point: $q_\phi(z \mid x) = \mathcal{N}\big(\mu_\phi(x), \operatorname{diag}\sigma_\phi^2(x)\big)$.
The exact answer $p(z \mid x) = p(x \mid z)\,p(z) / p(x)$ is out of reach because
$p(x) = \int p(x \mid z)\,p(z)\,dz$ has no closed form.

### The objective: the ELBO

$$\log p(x) \;\ge\; \text{ELBO} = \mathbb{E}_{q(z\mid x)}\big[\log p(x \mid z)\big] - \mathrm{KL}\big(q(z \mid x)\,\|\,p(z)\big)$$

and the gap is $\log p(x) - \text{ELBO} = \mathrm{KL}\big(q(z\mid x)\,\|\,p(z \mid x)\big) \ge 0$.
Training minimises $-\text{ELBO}$: a **reconstruction** term (here binary cross-entropy summed over
the 784 pixels, since the decoder gives each pixel a probability of being ink) plus a **KL** term.

### The KL term in closed form

For one dimension, $\mathrm{KL}\big(\mathcal{N}(\mu, \sigma^2)\,\|\,\mathcal{N}(0, 1)\big) = \tfrac12\big(\mu^2 + \sigma^2 - \log \sigma^2 - 1\big)$,
summed over dimensions. It is zero only when $\mu = 0$ and $\sigma = 1$: a dimension that the
model does not use collapses to exactly that (see the grey squares in the β tab).

### The reparameterisation trick

Sampling is not differentiable, so the sample is rewritten as
$z = \mu + \sigma \odot \varepsilon$ with $\varepsilon \sim \mathcal{N}(0, I)$: the randomness sits in
$\varepsilon$ and gradients flow through $\mu$ and $\sigma$. The *Show 8 other codes the encoder finds likely* button in the
Reconstruct tab shows exactly this: the same digit, eight draws of $\varepsilon$.

### What β does

The β-VAE loss is reconstruction $+\;\beta \cdot$ KL. β = 1 is the true ELBO. A larger β buys a
smoother, more regular space with blurrier digits; a smaller one sharper digits and a space with holes.
β only means something once the sums are fixed: this app sums both terms per image. (The tutorial
recipe "seed-conv" averages instead, and its weight of 0.1 equals β = 0.8 in this convention.)

### How good is it?

The test **negative log-likelihood** is estimated by importance sampling with $k$ samples,
$\log p(x) \approx \log \frac1k \sum_i \frac{p(x\mid z_i)\,p(z_i)}{q(z_i\mid x)}$ (Burda et al. 2015),
in nats on binarised test digits: lower is better. Published figures: an MLP VAE 86.76, a
two-layer IWAE 82.90. The figures of the shipped models are in the model line at the top. The main
model and the 2-D model learnt on the ELBO first, then on this same sum with $k = 16$ codes per digit (an
*importance-weighted autoencoder*): a tighter target, which made them less surprised by new digits. Their
encoders still give every digit one $\mu$ and one $\sigma$ per number, as everywhere in this app.
"""


def render(page) -> None:
    picture = gr.Image(format="png", show_label=False, elem_id="how-picture", interactive=False, buttons=[])
    plain = gr.Markdown(PLAIN)
    with gr.Accordion("Words and symbols used in this app", open=True):
        glossary = gr.Markdown(GLOSSARY, latex_delimiters=LATEX, elem_id="glossary")
    with gr.Row():
        recon = digits_image(label="encoder then decoder: test digits (top), reconstructions (bottom)")
        samples = digits_image(label="decoder alone: codes drawn from the prior N(0, I)")
    with gr.Accordion("The maths", open=False):
        gr.Markdown(MATHS, latex_delimiters=LATEX)
    page.worded((plain, "value", PLAIN), (glossary, "value", GLOSSARY), (recon, "label", recon.label))
    page.on_show(panels, [page.current], [picture, recon, samples])


def panels(name: str | None):
    if not name or CTX.test_images(name) is None:
        return None, None, None
    return (pipeline_picture(name), *model_panels(name))


@torch.no_grad()
def pipeline_picture(name: str) -> np.ndarray:
    """Test digit EXAMPLE through the model: the digit, its code (mu), and what the decoder draws back."""
    model = get_model(name)
    test = need_test_images(name)
    i = EXAMPLE if EXAMPLE < len(test) else 0
    x = data.to_float(test[i:i + 1])
    mu, _ = model.encode(x)
    used = CTX.registry.embedding(name, test).mu.var(0) > ACTIVE_UNIT_THRESHOLD
    recon = latent.decode_images(model, mu)
    return diagram.pipeline(x[0, 0].numpy(), recon[0, 0].numpy(), mu[0].numpy(), np.asarray(used),
                            _caption(name, int(CTX.test_labels(name)[i])), CTX.kind(name).noun)


def _caption(name: str, label: int) -> str:
    """What the example image is, under it: 'a handwritten 7', 'an ankle boot'."""
    kind = CTX.kind(name)
    return kind.a(label).replace(" ", " handwritten ", 1) if kind.digits else kind.a(label)
