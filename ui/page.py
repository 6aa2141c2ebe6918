"""The frame every view sits in: the header with the model menu, and what the views share.

Model changes and page load reach every view through one event: `Page.on_model`, which fires when
the model shown changes, including when the page first opens.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import gradio as gr

from .state import CTX

TITLE = "VAE latent space explorer"
INTRO = ("# What does a VAE learn? Explore its latent space\n"
         "A variational autoencoder squeezed 60,000 handwritten digits into a handful of numbers "
         "each. Drag those numbers, draw your own digit, walk between two digits, and see what "
         "the KL weight β does. New here? Take the **Tour**: six steps, one picture each.")

CSS = """
#map-click, #map-click-btn { display: none !important; }
.digit img { image-rendering: pixelated; }
.note { font-size: 0.95em; color: var(--body-text-color-subdued); }
footer { display: none !important; }
/* An image's label sits above it, never over its top row of digits. */
.digit label[data-testid="block-label"].float { position: static; margin-bottom: 4px; }
/* Long formulas scroll inside their line instead of running off a phone's screen. */
.katex-display { overflow-x: auto; overflow-y: hidden; padding-bottom: 4px; }
#tour-picture img { image-rendering: pixelated; }
.presenter #tour-picture { height: 68vh !important; }
.presenter #tour-text { font-size: 1.5em; line-height: 1.4; }
#phone-nav { display: none; }
@media (max-width: 640px) {
  #phone-nav { display: block; }                 /* every view one tap away, not behind "..." */
  .modebar-container { display: none !important; } /* Plotly's toolbar printed over chart titles */
  #click-panel { order: -1; }                    /* the clicked digit above the map, not two screens below */
}
"""

# Gradio's Plot has no click event: this bridge listens to Plotly's own click on the maps and hands the
# point (its test-image index, or its x, y) to a hidden button, whose click event's `js` hands the
# payload to Python as the value of a hidden textbox.
HEAD = """
<script>
(() => {
  function bind(plot) {
    if (plot.__vaeBound || typeof plot.on !== 'function') return;
    plot.__vaeBound = true;
    plot.on('plotly_click', (ev) => {
      const p = ev && ev.points && ev.points[0];
      if (!p) return;
      const index = p.data.type === 'scatter' && p.customdata !== undefined
        ? Number(p.customdata) : null;
      window.__vaeClick = JSON.stringify({index: index, x: Number(p.x), y: Number(p.y), t: Date.now()});
      const button = document.querySelector('#map-click-btn');
      if (button) button.click();
    });
  }
  // The sketchpad opens with no tool chosen (strokes did nothing): choose the brush when the Draw tab
  // opens and after every Clear.
  // A chosen tool is "highlight"ed; clicking a chosen one would put it away, so only an unchosen one is
  // clicked, and again a little later in case the pad was still being drawn.
  window.__vaeBrush = () => [150, 600, 1500].forEach((ms) => setTimeout(() => {
    const brush = document.querySelector('#sketch button[aria-label="Brush"]');
    if (brush && !brush.classList.contains('highlight') && !brush.classList.contains('selected')) brush.click();
  }, ms));
  document.addEventListener('click', (ev) => {
    if (ev.target.closest && ev.target.closest('#sketch button[aria-label="Clear canvas"]')) window.__vaeBrush();
  }, true);
  const scan = () => document.querySelectorAll('#latent-map .js-plotly-plot').forEach(bind);
  new MutationObserver(scan).observe(document.documentElement, {childList: true, subtree: true});
  setInterval(scan, 1000);
})();
</script>
"""


# A chart drawn while its tab was hidden has the wrong width; a resize once the tab shows redraws it.
RESIZE_PLOTS = "() => { setTimeout(() => window.dispatchEvent(new Event('resize')), 80); }"


@dataclass
class Page:
    """What the views share: the model menu, the model shown, and the visitor's current digit."""

    demo: gr.Blocks
    model: gr.Dropdown  # the model menu in the header
    current: gr.State  # the model every view shows; set on page load and on every change of the menu
    digit: gr.State  # the visitor's current digit (28 rows of 28 values in [0, 1]), or None
    source: gr.State  # where that digit came from, in words ("test image #12", "your drawing")
    menus: list[gr.Dropdown] = field(default_factory=list)  # every menu that lists the models
    models_added: list = field(default_factory=list)  # events after which a new model may exist
    tabs: gr.Tabs | None = None  # the views' tabs, for a view that sends the visitor to another

    def on_model(self, fn, inputs, outputs, **kwargs):
        """Run fn whenever the model shown changes, on page load too. Returns the event, to chain on."""
        return self.current.change(fn, inputs, outputs, api_name=False, **kwargs)

    def model_menu(self, **kwargs) -> gr.Dropdown:
        """A menu of the models, kept up to date with the header's (on page load, after a training)."""
        menu = gr.Dropdown(choices=CTX.model_choices(), allow_custom_value=True, **kwargs)
        self.menus.append(menu)
        return menu

    def wire(self) -> None:
        """Called once every view is built: page load and new models update every menu."""
        self.model.change(lambda name: name, self.model, self.current, api_name=False)
        self.demo.load(self._on_load, self.model, [self.current, *self.menus], api_name=False)
        for event in self.models_added:
            event.then(self._menu_updates, None, self.menus, api_name=False)

    def _on_load(self, name: str | None, request: gr.Request) -> list:
        """A new visitor: list the models as they are now (shipped ones and their own) and show one."""
        CTX.registry.refresh()
        value = name if name in CTX.registry.names() else CTX.default_model()
        return [value, *self._menu_updates(request, value)]

    def _menu_updates(self, request: gr.Request, value: str | None = None) -> list:
        """Fresh choices for every menu of this visitor; the header's also gets `value` when one is given."""
        choices = CTX.model_choices(session_of(request))
        header = gr.update(choices=choices, value=value) if value else gr.update(choices=choices)
        return [header] + [gr.update(choices=choices)] * (len(self.menus) - 1)


def session_of(request: gr.Request | None) -> str:
    """Who is asking: the page's session (one per open tab, or per gradio_client Client)."""
    return getattr(request, "session_hash", None) or "anonymous"


def build_header(demo: gr.Blocks) -> Page:
    gr.Markdown(INTRO)
    with gr.Row():
        # Custom values pass Gradio's own check, so that a model trained since the page was built can be
        # named (by a script, or after a refresh); get_model() says clearly when a name is unknown.
        menu = gr.Dropdown(label="Model", choices=CTX.model_choices(), value=CTX.default_model(),
                           allow_custom_value=True, scale=1, min_width=220)
        with gr.Column(scale=1, min_width=300):  # a column, so that on a phone the card wraps below
            summary = gr.Markdown(model_summary(CTX.default_model()), elem_classes="note")
    page = Page(demo, menu, gr.State(None), gr.State(None), gr.State(""), menus=[menu])
    page.on_model(model_summary, page.current, summary)
    return page


def model_summary(name: str | None) -> str:
    """The model card: what the model is in words first, the technical figures after."""
    if not name:
        return "No models found: train one with `python -m vae_core.train` (see the README)."
    if name not in CTX.registry.names():
        return f"**{name}** is no longer available (a newer trained model took its place): choose another."
    e = CTX.registry.entry(name)
    m, test = e.config["model"], e.metrics.get("test", {})
    recipe = {"conv": "", "seed-conv": " (the common tutorial recipe)", "mlp": " (the textbook MLP recipe)"}[m["arch"]]
    words = (f"**{name}** describes each digit with **{m['latent_dim']} numbers**{recipe}; trained with KL "
             f"weight β = {e.config.get('beta', 1):g}")
    words += "." if e.shipped else f", {CTX.completion(name)}."
    if test.get("nll"):
        words += (f"  \nHow well it knows digits: {test['nll']:.1f} nats per test digit (lower is better; "
                  f"k = {test['k']}), {test['active_units']} of {m['latent_dim']} numbers in use.")
    return words
