"""VAE latent-space explorer: a Gradio app on top of vae_core.

    python app.py [--host 127.0.0.1] [--port 7860] [--share] [--data-dir DIR] [--model FOLDER|owner/name]

The page is a header and one tab per view; each view is a module of ui/views (its limits, layout,
wiring and handlers, its CSS and JS). A new view is one new file there and one line in VIEWS. Importing
this module neither builds the page nor loads any model: `app.demo` builds it, on first use.
"""

from __future__ import annotations

import argparse
import importlib.machinery
import logging
import os
import sys
import time

import gradio as gr
import torch
from starlette.middleware import Middleware

from ui import api, drawing, guard, serving
from ui.page import CSS, THEME, TITLE, build_page
from ui.state import CTX
from ui.views import beta, generate, how_it_works, interpolate, latent_map, learn, make, reconstruct, tour
from vae_core import CheckpointError

VIEWS = [latent_map, tour, generate, make, reconstruct, interpolate, beta, learn, how_it_works]
CACHE_CLEANING = (600, 3600)  # Gradio's copies of uploads and outputs: every 10 minutes, those over an hour old
WARMED_UP = "start-up work done"  # the log's line once the warm-up is over (benchmarks wait for it)
WARM_UP_DELAY = 10.0  # after the server starts: the warm-up takes no core from the first visitor's page


def build_demo() -> gr.Blocks:
    with gr.Blocks(title=TITLE, delete_cache=CACHE_CLEANING) as demo:
        build_page(demo, VIEWS)
        api.register()
    return demo


_demo: gr.Blocks | None = None


def __getattr__(name: str):
    """`app.demo`, built on first use: importing the module stays cheap, and main() builds it once, after
    its flags (--model) are known."""
    global _demo
    if name != "demo":
        raise AttributeError(name)
    if _demo is None:
        _demo = build_demo()
    return _demo


def warm_up(name: str | None) -> None:
    """Background start-up work (seconds of a core): the default model's codes of its test set, each view's
    own (its `warm_up(name)`), and the decoders the pages ask for first."""
    if name is None or CTX.test_images(name) is None:
        return
    began = time.monotonic()
    for work in (lambda n: CTX.tidy(), lambda n: CTX.registry.embedding(n, CTX.test_images(n)),
                 *(view.warm_up for view in VIEWS if hasattr(view, "warm_up")),
                 lambda n: drawing.warm_up([n, CTX.main_of(n)])):
        try:
            work(name)
        except Exception as e:  # start-up must never fail on a bad model; the views say what is wrong
            logging.getLogger("vae_explorer").warning("warm-up: %s", e)
    logging.getLogger("vae_explorer").info("%s in %.0f s", WARMED_UP, time.monotonic() - began)


def children_skip_main() -> None:
    """A process the app spawns (a training, work apart) would import the main file again, and with it
    Gradio and every view: 4 s of a core per training, before it lowers its priority. Named "__main__",
    multiprocessing leaves it out."""
    sys.modules["__main__"].__spec__ = importlib.machinery.ModuleSpec("__main__", None)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="VAE latent space explorer")
    parser.add_argument("--host", default=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
                        help="address to bind (default 127.0.0.1; Spaces sets GRADIO_SERVER_NAME)")
    parser.add_argument("--port", type=int, default=int(os.environ.get("GRADIO_SERVER_PORT", "7860")))
    parser.add_argument("--share", action="store_true", help="also serve through a public Gradio link")
    parser.add_argument("--data-dir", help="folder with the MNIST files (else $VAE_DATA_DIR, else ./data)")
    parser.add_argument("--model", help="open on this model: a checkpoint folder or a Hugging Face Hub repo id "
                        "(owner/name); it joins the model list")
    args = parser.parse_args(argv)
    children_skip_main()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # Gradio's own start-up requests
    CTX.data_dir = args.data_dir
    if args.model:
        try:
            CTX.open_on(args.model)
        except CheckpointError as e:
            parser.exit(2, f"error: {e}\n")
    demo = __getattr__("demo")
    torch.set_num_threads(1)  # many small requests at once: each its own core, no thread pool to contend for
    for view in VIEWS:  # what every page opens on, ready before the server answers
        if hasattr(view, "before_serving"):
            view.before_serving(CTX.default_model())
    CTX.background.start(warm_up, CTX.default_model(), delay=WARM_UP_DELAY)
    css = CSS + "".join(getattr(view, "CSS", "") for view in VIEWS)  # the frame's, then each view's own
    limits = guard.protect(demo)
    limits["app_kwargs"]["middleware"] += [Middleware(drawing.BrowserFiles), Middleware(serving.PageCache)]
    serving.lazy_session_configs()
    serving.lighter_analytics(demo)
    demo.launch(server_name=args.host, server_port=args.port, share=args.share, css=css, theme=THEME,
                footer_links=["api"], **limits)


if __name__ == "__main__":
    main()
