"""The frame every view sits in: the header with the model menu, and what the views share.

Model changes and page load reach the views through two doors. `Page.on_model` runs at once whenever
the model shown changes, including when the page first opens (the header's model card). `Page.on_show`
draws a view only when it is on screen: the first view when the page opens, any other the first time it
is opened and again when it is opened after a change of model. A view nobody opens costs nothing, and
the first picture does not wait behind the drawing of six hidden ones.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from pathlib import Path

import gradio as gr

from vae_core import checkpoints, hub
from vae_core.model import RECIPES
from vae_core.checkpoints import CheckpointError

from .common import download_file
from .state import CTX

TITLE = "VAE latent space explorer"
INTRO = ("# What does a VAE learn? Explore its latent space\n"
         "A variational autoencoder, a small neural network, squeezed 60,000 handwritten digits into a "
         "handful of numbers each and learnt to draw them back. Drag those numbers, draw your own digit, walk "
         "between two digits, and see what squeezing harder (the KL weight β) does. New here? Take the "
         "**Tour**: six steps, one picture each.")


def intro(name: str | None) -> str:
    """The header's words for the model shown: its own images ("60,000 handwritten digits", or the
    training images of Fashion-MNIST or of a folder)."""
    kind = CTX.kind(name)
    if kind.digits:
        return INTRO
    return kind.say(INTRO.replace("60,000 handwritten digits", f"the training images of {kind.title}"))

# Gradio's default font, Source Sans Pro, with its bold from the full Bold file: the SemiBold file it
# ships is a 5 KB subset without "A" or "B", so headings and bold words (VAE, ELBO, PCA) drew those letters
# in a fallback font wherever Google's fonts are not fetched (a classroom offline, this sandbox).
# Its notes and hints darker than Gradio's grey (neutral 400 on white, a contrast of 1.9:1, faded to nothing on
# a classroom projector): neutral 600 is 7.7:1.
THEME = gr.themes.Default(font=[gr.themes.LocalFont("Source Sans Pro", weights=(400, 700)), "ui-sans-serif",
                                "system-ui", "sans-serif"]).set(body_text_color_subdued="*neutral_600")

CSS = """
/* The header in as little height as reads well, so a laptop's screen shows the map's foot. */
#intro h1 { font-size: 1.6rem; margin: 0 0 0.2em 0; }
#intro p { margin: 0; }
.note { font-size: 0.95em; color: var(--body-text-color-subdued); }
footer { display: none !important; }
/* Pictures of digits (class "digit", in every view): pixels, not a blur; the label above the picture, never
   over its top row of digits, the frame growing by the label's height; its buttons up in the label's row. */
.digit img { image-rendering: pixelated; }
.digit label[data-testid="block-label"].float { position: static; margin-bottom: 4px; }
.block.digit { height: auto !important; }
.digit .image-container .icon-button-wrapper.top-panel { top: -34px; }
/* Long formulas scroll inside their line instead of running off a phone's screen. */
.katex-display { overflow-x: auto; overflow-y: hidden; padding-bottom: 4px; }
#phone-nav { display: none; }
@media (max-width: 640px) {
  .digit .icon-button-wrapper.top-panel { display: none; }  /* an image's buttons, over a phone-sized picture */
  #phone-nav { display: block; }                 /* every view one tap away, not behind "..." */
  /* ...in a compact list, and no model download on a phone: the map began below the fold (at 720 px) */
  #phone-nav label { padding: 3px 8px !important; font-size: 0.85rem; }
  #phone-nav .wrap { gap: 4px !important; }
  #model-download { display: none !important; }
  #intro h1 { font-size: 1.35rem; }
  #views > .tab-wrapper { display: none; }       /* ...and not a second, shorter list of them below */
  .modebar-container { display: none !important; } /* Plotly's toolbar printed over chart titles */
}
"""


def on_phone_show(selector: str, block: str = "nearest") -> str:
    """js for an event: on a phone (640 px wide or less), scroll the page so that `selector` is on screen once
    drawn; "nearest" scrolls the least that shows it, "start" brings its top to the screen's top. Again a
    moment later: a view still being drawn left the page too short to scroll that far (the Tour stopped
    107 px short)."""
    return ("() => { if (window.innerWidth > 640) return; const go = () => { const el = document.querySelector('%s'); "
            "if (el) el.scrollIntoView({block: '%s', behavior: 'smooth'}); }; setTimeout(go, 150); setTimeout(go, 900); }"
            % (selector, block))


# A chart drawn while its tab was hidden has the wrong width; a resize once the tab shows redraws it.
RESIZE_PLOTS = "() => { setTimeout(() => window.dispatchEvent(new Event('resize')), 80); }"


@dataclass
class Page:
    """What the views share: the model menu, the model shown, and the visitor's current digit."""

    demo: gr.Blocks
    model: gr.Dropdown  # the model menu in the header
    current: gr.State  # the model every view shows: the default one, then each chosen in the menu
    digit: gr.State  # the visitor's current digit (28 rows of 28 values in [0, 1]), or None
    source: gr.State  # where that digit came from, in words ("test image #12", "your drawing")
    menus: list[gr.Dropdown] = field(default_factory=list)  # every menu that lists the models
    models_added: list = field(default_factory=list)  # events after which a new model may exist
    tabs: gr.Tabs | None = None  # the views' tabs, for a view that sends the visitor to another
    shown: gr.State | None = None  # the id of the view on screen
    nav: gr.Radio | None = None  # the phones' list of views, which shows the one on screen
    building: str | None = None  # the id of the view whose render() is running
    openers: dict[str, list] = field(default_factory=dict)  # view id -> (gate, inputs, outputs) to run on opening
    open_events: list = field(default_factory=list)  # (event that sets `shown`, the view it opens or None)
    first_draw: list = field(default_factory=list)  # (gate, inputs, outputs) of the first view, run on page load
    intro: gr.Markdown | None = None  # the header's words, which follow the model's dataset
    download: gr.DownloadButton | None = None  # the model shown, as a zip
    visitor: gr.BrowserState | None = None  # a random id the visitor's browser keeps: their trained models

    def on_model(self, fn, inputs, outputs, **kwargs):
        """Run fn whenever the model shown changes, on page load too. Returns the event, to chain on."""
        return self.current.change(fn, inputs, outputs, api_name=False, **kwargs)

    def on_show(self, fn, inputs, outputs, per_model: bool = True) -> None:
        """Draw the view being built with fn(*inputs) -> outputs, only while it is on screen: when the page
        opens (first view) or the view is opened, and, if per_model, again for each new model shown (at
        once when the view is on screen, else when it next opens). fn may take `request`. Everything it does
        not draw stays as it was. fn may be a generator, to show its outputs in stages, but not a chart
        (gr.Plot) in a later stage: Gradio sends later stages as differences from earlier ones, and a chart
        that came first as "no change" was now and then left empty on the page. A view shown in stages
        registers one plain fn per stage instead (see generate.py)."""
        view, drawn = self.building, gr.State(None)  # drawn: the model the view shows (or "drawn")
        gate = _gate(view, fn, len(outputs), per_model)
        io = ([self.shown, drawn, self.current, *inputs], [drawn, *outputs])
        self.openers.setdefault(view, []).append((gate, *io))
        if per_model:
            self.current.change(gate, *io, api_name=False)
        if view == self.shown.value:
            # The first view is drawn as the page loads, for the model its menu opens on (the model shown
            # is set just after, and then finds it drawn): the first picture waits for one request, not two.
            self.first_draw.append((gate, [self.shown, drawn, self.model, *inputs], io[1]))

    def worded(self, *items) -> None:
        """Words of the view being built, written for MNIST, said in the words of the model shown's dataset
        ("digit" becomes "item"): items are (component, "label" or "value", text). Drawn with the view.
        Never a Sketchpad: an update of its label after a change of model left it taking strokes that drew
        nothing."""
        components = [component for component, _, _ in items]

        def words(name):
            kind = CTX.kind(name)
            updates = [gr.update(**{attr: kind.say(text)}) for _, attr, text in items]
            return updates[0] if len(updates) == 1 else updates
        words.__name__ = "words"
        self.on_show(words, [self.current], components)

    def go_to(self, trigger, view_of, inputs):
        """trigger(view_of, inputs, ...) sends the visitor to the view view_of(*inputs) names, and draws it;
        returns the event that switches the view."""
        def go(*args):
            view = view_of(*args)
            return gr.Tabs(selected=view), view, view
        event = trigger(go, inputs, [self.tabs, self.shown, self.nav], api_name=False)
        self.opens(event)
        return event

    def opens(self, event, view: str | None = None) -> None:
        """`event` sets `shown`: draw the view it opens (`view`, or whichever it chose when None) once
        every view is built."""
        self.open_events.append((event, view))

    def model_menu(self, **kwargs) -> gr.Dropdown:
        """A menu of the models, kept up to date with the header's (on page load, after a training)."""
        menu = gr.Dropdown(choices=CTX.model_choices(), allow_custom_value=True, **kwargs)
        self.menus.append(menu)
        return menu

    def wire(self) -> None:
        """Called once every view is built: page load and new models update every menu, and the events
        that open a view draw it."""
        self.model.change(lambda name: name, self.model, self.current, api_name=False)
        event = None
        for gate, inputs, outputs in self.first_draw:
            event = (event.then if event else self.demo.load)(gate, inputs, outputs, api_name=False)
        (event.then if event else self.demo.load)(self._on_load, [self.model, self.visitor],
                                                  [self.current, self.visitor, self.download, *self.menus],
                                                  api_name=False)
        for event in self.models_added:
            event.then(self._menu_updates, None, self.menus, api_name=False)
        for event, view in self.open_events:
            for v, registered in self.openers.items():
                for gate, inputs, outputs in registered if view in (None, v) else []:
                    event.then(gate, inputs, outputs, api_name=False)

    def _on_load(self, name: str | None, visitor: str | None, request: gr.Request) -> list:
        """A page opens: recognise its visitor (the id their browser keeps), list the models as they are now
        (shipped ones and their own) and show one, with its download. The page was built showing the default
        model, so for it the model shown does not change, and nothing else runs: the 19 requests a change sets
        off cost the first picture 0.5 s of the browser's time."""
        visitor = CTX.recognise(request.session_hash, visitor)
        CTX.registry.refresh()
        value = name if name in CTX.registry.names() else CTX.default_model()
        return [value, visitor, model_zip(value), *self._menu_updates(request, value)]

    def _menu_updates(self, request: gr.Request, value: str | None = None) -> list:
        """Fresh choices for every menu of this visitor; the header's also gets `value` when one is given."""
        choices = CTX.model_choices(session_of(request))
        header = gr.update(choices=choices, value=value) if value else gr.update(choices=choices)
        return [header] + [gr.update(choices=choices)] * (len(self.menus) - 1)


def _gate(view: str, fn, n_outputs: int, per_model: bool):
    """fn wrapped to run only when `view` is on screen and shows something older than the current model;
    else every output is left as it is. The wrapper's first output records what the view now shows."""
    takes_request = "request" in inspect.signature(fn).parameters
    skip = [gr.skip()] * (n_outputs + 1)

    def due(shown, drawn, current):
        key = current if per_model else "drawn"
        return key if shown == view and drawn != key else None

    def call(args, request):
        return fn(*args, request=request) if takes_request else fn(*args)

    if inspect.isgeneratorfunction(fn):
        def gate(request: gr.Request, shown, drawn, current, *args):
            key = due(shown, drawn, current)
            if key is None:
                yield skip
                return
            for out in call(args, request):
                yield [key, *_as_list(out, n_outputs)]
    else:
        def gate(request: gr.Request, shown, drawn, current, *args):
            key = due(shown, drawn, current)
            return skip if key is None else [key, *_as_list(call(args, request), n_outputs)]
    gate.__name__ = gate.__qualname__ = f"show_{view}_{fn.__name__}"
    return gate


def _as_list(out, n: int) -> list:
    return [out] if n == 1 else list(out)


def session_of(request: gr.Request | None) -> str:
    """Who is asking: the visitor whose page this is (CTX.recognise, when it opened; the same after a reload
    or a restart), or a script's own session (one per gradio_client Client)."""
    return CTX.owner_of(getattr(request, "session_hash", None))


def build_page(demo: gr.Blocks, views: list) -> Page:
    """The header, then one tab per view (each view module's render(page)), wired together."""
    page = build_header(demo)
    kind = CTX.kind(CTX.default_model())  # the views named as header_words names them for that model
    page.shown = gr.State(views[0].ID)
    page.nav = gr.Radio([(kind.say(v.TITLE), v.ID) for v in views], value=views[0].ID, show_label=False,
                        elem_id="phone-nav")  # phones only
    tabs = []
    with gr.Tabs(elem_id="views") as page.tabs:
        for view in views:
            with gr.Tab(kind.say(view.TITLE), id=view.ID) as tab:
                tabs.append(tab)
                page.building = view.ID
                view.render(page)
            tab.select(None, js=RESIZE_PLOTS, api_name=False)
            page.opens(tab.select(lambda v=view.ID: (v, v), None, [page.shown, page.nav], api_name=False), view.ID)
    # A view chosen on a phone starts at the screen's top (below the header and this list, it began off it):
    # at once, and again once the server has switched the view (on a busy server that took over a second).
    switched = page.go_to(page.nav.input, lambda view: view, page.nav)
    page.nav.input(None, js=on_phone_show("#views", "start"), api_name=False)
    switched.then(None, js=on_phone_show("#views", "start"), api_name=False)

    def header_words(name: str | None) -> list:
        return header_words_of(name, views)
    page.on_model(header_words, page.current, [page.intro, page.nav, *tabs])
    page.wire()
    return page


def header_words_of(name: str | None, views: list) -> list:
    """The header's words and the views' names in the words of the model shown ("Make a digit" becomes
    "Make an item"): one request, whatever the number of views."""
    kind = CTX.kind(name)
    nav = gr.update(choices=[(kind.say(v.TITLE), v.ID) for v in views])
    return [intro(name), nav, *(gr.update(label=kind.say(v.TITLE)) for v in views)]


def build_header(demo: gr.Blocks) -> Page:
    """The header, built as it reads for the default model: the model every page opens on."""
    default = CTX.default_model()
    words = gr.Markdown(intro(default), elem_id="intro")
    with gr.Row(elem_id="model-row"):
        # Custom values pass Gradio's own check, so that a model trained since the page was built can be
        # named (by a script, or after a refresh); get_model() says clearly when a name is unknown.
        menu = gr.Dropdown(label="Model", choices=CTX.model_choices(), value=default,
                           allow_custom_value=True, scale=1, min_width=220)
        with gr.Column(scale=1, min_width=300):  # a column, so that on a phone the card wraps below
            summary = gr.Markdown(model_summary(default), elem_classes="note")
            download = gr.DownloadButton("⬇ Download this model (zip: weights, config, model card)", size="sm",
                                         elem_id="model-download", visible=False)
    page = Page(demo, menu, gr.State(default), gr.State(None), gr.State(""), menus=[menu], intro=words,
                download=download, visitor=gr.BrowserState(None, storage_key="vae-explorer-visitor"))
    page.on_model(model_summary, page.current, summary)
    page.on_model(model_zip, page.current, download)
    return page


_zips: dict[tuple, str] = {}  # (model, its folder, when its weights were written) -> its zip, made once


def model_zip(name: str | None):
    """The model shown as a zip to download: a folder that vae_core.load_model loads, with its card; made
    once per model's weights (every page load offers it, and zipping takes a tenth of a second)."""
    if not name or name not in CTX.registry.names():
        return gr.update(value=None, visible=False)
    path = Path(CTX.registry.entry(name).path)
    try:
        key = (name, str(path), (path / checkpoints.WEIGHTS).stat().st_mtime_ns)
        if key not in _zips or not Path(_zips[key]).exists():  # (old downloads make way for new ones)
            content = hub.zip_bytes(path, name)
            _zips[key] = download_file(content, f"{name.replace('/', '--')}.zip")
    except (CheckpointError, OSError):
        return gr.update(value=None, visible=False)
    return gr.update(value=_zips[key], visible=True)


def model_summary(name: str | None) -> str:
    """The model card: what the model is in words first, the technical figures after."""
    if not name:
        return "No models found: train one with `python -m vae_core.train` (see the README)."
    if name not in CTX.registry.names():
        return f"**{name}** is no longer available (a newer trained model took its place): choose another."
    e = CTX.registry.entry(name)
    m, test = e.config["model"], e.metrics.get("test", {})
    recipe = "" if m["arch"] == "conv" else f" ({RECIPES[m['arch']]})"
    kind = CTX.kind(name)
    words = (f"**{name}** describes each digit with **{m['latent_dim']} numbers**{recipe}; trained on {kind.title} "
             f"with KL weight β = {e.config.get('beta', 1):g}")
    words += "." if e.shipped else f", {CTX.completion(name)}."
    if test.get("nll"):
        # The score in words first; "nats" (the unit of log-likelihood) is in How it works' glossary.
        words += (f"  \nHow surprised it is by a new test digit: {test['nll']:.1f} (lower is better; in nats, see "
                  f"How it works); {test['active_units']} of {m['latent_dim']} numbers in use.")
    return kind.say(words)
