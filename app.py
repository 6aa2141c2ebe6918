"""VAE latent-space explorer: a Gradio app on top of vae_core.

    python app.py [--host 127.0.0.1] [--port 7860] [--share] [--data-dir DIR] [--model FOLDER|owner/name]

The page is a header and one tab per view; each view is a module of ui/views (its limits, layout,
wiring and handlers). A new view is one new file there and one line in VIEWS. Importing this module
builds the Blocks (`demo`) but neither launches it nor loads any model.
"""

from __future__ import annotations

import argparse
import logging
import os
import threading

import gradio as gr
import torch
from starlette.middleware import Middleware

from ui import api, drawing, guard
from ui.page import CSS, HEAD, RESIZE_PLOTS, THEME, TITLE, build_header, intro, on_phone_show
from ui.state import CTX
from ui.views import beta, generate, how_it_works, interpolate, latent_map, learn, make, reconstruct, tour
from vae_core import CheckpointError

VIEWS = [latent_map, tour, generate, make, reconstruct, interpolate, beta, learn, how_it_works]
CACHE_CLEANING = (600, 3600)  # every 10 minutes, files older than an hour
# The warm-up starts this long after the server: started with it, it took a core from the first visitor's
# browser and made their first picture 1 s slower (3.7 s against 2.7 s on a 2-core machine).
WARM_UP_DELAY = 10.0


def build_demo() -> gr.Blocks:
    # Gradio's own copies of uploads and outputs are deleted an hour after they were made.
    with gr.Blocks(title=TITLE, delete_cache=CACHE_CLEANING) as demo:
        page = build_header(demo)
        kind = CTX.kind(CTX.default_model())  # the views named as header_words names them for that model
        page.shown = gr.State(VIEWS[0].ID)
        page.nav = gr.Radio([(kind.say(v.TITLE), v.ID) for v in VIEWS], value=VIEWS[0].ID, show_label=False,
                            elem_id="phone-nav")  # phones only
        tabs = []
        with gr.Tabs(elem_id="views") as page.tabs:
            for view in VIEWS:
                with gr.Tab(kind.say(view.TITLE), id=view.ID) as tab:
                    tabs.append(tab)
                    page.building = view.ID
                    view.render(page)
                tab.select(None, js=RESIZE_PLOTS, api_name=False)
                page.opens(tab.select(lambda v=view.ID: (v, v), None, [page.shown, page.nav], api_name=False),
                           view.ID)
        # A view chosen on a phone starts at the screen's top (below the header and this list, it began off it):
        # at once, and again once the server has switched the view (on a busy server that took over a second,
        # and the page, still short, had stopped scrolling 400 px short).
        switched = page.go_to(page.nav.input, lambda view: view, page.nav)
        page.nav.input(None, js=on_phone_show("#views", "start"), api_name=False)
        switched.then(None, js=on_phone_show("#views", "start"), api_name=False)
        page.on_model(header_words, page.current, [page.intro, page.nav, *tabs])
        page.wire()
        api.register()
    return demo


def header_words(name: str | None) -> list:
    """The header's words and the views' names in the words of the model shown ("Make a digit" becomes
    "Make an item"): one request, whatever the number of views."""
    kind = CTX.kind(name)
    nav = gr.update(choices=[(kind.say(v.TITLE), v.ID) for v in VIEWS])
    return [intro(name), nav, *(gr.update(label=kind.say(v.TITLE)) for v in VIEWS)]


demo = build_demo()


def warm_up(name: str | None) -> None:
    """Background start-up work (8 s of a core): embed the test set for the default model and the beta ladder,
    and place the ladder on the beta view's rate-distortion chart."""
    if name is None or CTX.test_images(name) is None:
        return
    try:
        CTX.registry.embedding(name, CTX.test_images(name))
        for d in CTX.ladder():
            CTX.registry.embedding(d["name"], CTX.test_images(d["name"]))
        beta.rd_points()  # the beta view's rate-distortion chart
        drawing.warm_up([name, CTX.main_of(name)])  # the decoders the pages ask for first
    except Exception as e:  # start-up must never fail on a bad model; the views say what is wrong
        print(f"warm-up: {e}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="VAE latent space explorer")
    parser.add_argument("--host", default=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
                        help="address to bind (default 127.0.0.1; Spaces sets GRADIO_SERVER_NAME)")
    parser.add_argument("--port", type=int, default=int(os.environ.get("GRADIO_SERVER_PORT", "7860")))
    parser.add_argument("--share", action="store_true", help="also serve through a public Gradio link")
    parser.add_argument("--data-dir", default=None, help="folder with the MNIST files (else $VAE_DATA_DIR, else ./data)")
    parser.add_argument("--model", default=None, help="open on this model: a checkpoint folder or a Hugging Face "
                        "Hub repo id (owner/name); it joins the model list")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # Gradio's own start-up requests
    CTX.data_dir = args.data_dir
    global demo
    if args.model:
        try:
            CTX.open_on(args.model)
        except CheckpointError as e:
            parser.exit(2, f"error: {e}\n")
        demo = build_demo()  # built again, to open on it
    guard.bound_image_decoding()
    torch.set_num_threads(1)  # many small requests at once: each its own core, no thread pool to contend for
    latent_map.make_ahead(CTX.default_model())  # the map every page opens on, before the server answers
    later = threading.Timer(WARM_UP_DELAY, CTX.background.start, (warm_up, CTX.default_model()))
    later.daemon = True
    later.start()
    demo.queue(default_concurrency_limit=8, max_size=guard.QUEUE_SIZE)
    guard.limit_queue_per_visitor(demo)
    guard.quiet_component_checks(demo)
    css = CSS + "".join(getattr(view, "CSS", "") for view in VIEWS)  # the frame's, then each view's own
    demo.launch(server_name=args.host, server_port=args.port, share=args.share, max_file_size="20mb", css=css,
                head=HEAD, theme=THEME, footer_links=["api"],
                app_kwargs={"middleware": [Middleware(guard.BodyLimit), Middleware(drawing.BrowserFiles)]})


if __name__ == "__main__":
    main()
