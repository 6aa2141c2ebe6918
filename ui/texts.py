"""The app's words, styles and its one piece of JavaScript, apart from the layout that uses them."""

NO_DATA = ("**This view needs the MNIST test set**, which was not found. Start the app with "
           "`--data-dir DIR` or set `VAE_DATA_DIR` to a folder holding the four MNIST files "
           "(it downloads them there when the network allows). Generating and drawing work without it.")

MAP_NOTE_2D = ("This model has two latent dimensions, so the map *is* its latent space: every dot is the "
               "encoder's mean for one test digit. Click a dot to see that digit, or click empty space "
               "to decode that spot. Tick *Show decoded digits* to lay the decoder's view under the dots.")
MAP_NOTE_ND = ("Every dot is the code of one real test digit, flattened from {d} dimensions to two. "
               "A projected map shows where real digits land; the space *between* dots is squeezed and "
               "decoding it is not shown here (use a 2-D model, or the Generate and Interpolate tabs). "
               "Click a dot to see the digit, its reconstruction and its code.")

BETA_TEXT = r"""
**What β does.** The loss is *reconstruction + β × KL*, with both summed per image (this app's
convention; β = 1 is the true ELBO). The KL term pulls every code toward the prior N(0, I).

* **Small β** (0.1): sharp reconstructions, codes spread out; the space between codes is full of
  holes, so random samples are often not digits.
* **Large β** (4, 8): the codes crowd toward the prior; samples are smooth but blurry, and
  dimensions the model can spare *collapse*: their KL falls to zero (grey bars below).

The shipped models are the same network trained at β = 0.1, 0.5, 1, 2, 4 and 8; the slider shows the
nearest one. *Train with this beta* makes a new one at exactly the slider's value.
"""

HOW_IT_WORKS = r"""
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

CSS = """
#map-click, #map-click-btn { display: none !important; }
.digit img { image-rendering: pixelated; }
.note { font-size: 0.95em; color: var(--body-text-color-subdued); }
footer { display: none !important; }
"""

# Gradio's Plot has no click event: this bridge listens to Plotly's own click on the maps and hands the
# point (its test-image index, or its x, y) to a hidden button, whose click event's `js` hands the
# payload to Python as the value of a hidden textbox.
CLICK_BRIDGE = """
<script>
(() => {
  function bind(plot) {
    if (plot.__vaeBound || typeof plot.on !== 'function') return;
    plot.__vaeBound = true;
    plot.on('plotly_click', (ev) => {
      const p = ev && ev.points && ev.points[0];
      if (!p) return;
      const index = (p.data.type === 'scattergl' || p.data.type === 'scatter') && p.customdata !== undefined
        ? Number(p.customdata) : null;
      window.__vaeClick = JSON.stringify({index: index, x: Number(p.x), y: Number(p.y), t: Date.now()});
      const button = document.querySelector('#map-click-btn');
      if (button) button.click();
    });
  }
  const scan = () => document.querySelectorAll('#latent-map .js-plotly-plot').forEach(bind);
  new MutationObserver(scan).observe(document.documentElement, {childList: true, subtree: true});
  setInterval(scan, 1000);
})();
</script>
"""
