"""How it works: the ideas in plain words and formulas, illustrated with the app's own model."""

from __future__ import annotations

import gradio as gr

from ..common import model_panels
from ..state import CTX

TITLE, ID = "How it works", "how"
LATEX = [{"left": "$$", "right": "$$", "display": True}, {"left": "$", "right": "$", "display": False}]

TEXT = r"""
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
model does not use collapses to exactly that (see the grey bars in the β tab).

### The reparameterisation trick

Sampling is not differentiable, so the sample is rewritten as
$z = \mu + \sigma \odot \varepsilon$ with $\varepsilon \sim \mathcal{N}(0, I)$: the randomness sits in
$\varepsilon$ and gradients flow through $\mu$ and $\sigma$. The *Draw ε again* button in the
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
two-layer IWAE 82.90. The figures of the shipped models are in the model line at the top.
"""


def render(page) -> None:
    gr.Markdown(TEXT, latex_delimiters=LATEX)
    with gr.Row():
        recon = gr.Image(label="encoder then decoder: test digits (top), reconstructions (bottom)",
                         elem_classes="digit", interactive=False)
        samples = gr.Image(label="decoder alone: codes drawn from the prior N(0, I)",
                           elem_classes="digit", interactive=False)
    page.on_model(panels, page.current, [recon, samples])


def panels(name: str | None):
    if not name or CTX.test_images() is None:
        return None, None
    return model_panels(name)
