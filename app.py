"""VAE latent-space explorer: a Gradio app on top of vae_core.

    python app.py [--host 127.0.0.1] [--port 7860] [--share] [--data-dir DIR]

Layout and wiring only: every computation is a call into vae_core (explore, figures, evaluate, train).
Importing this module builds the Blocks (`demo`) but neither launches it nor loads any model.
"""

from __future__ import annotations

import argparse
import os
import threading

import gradio as gr

from ui.state import CTX
from ui.texts import BETA_TEXT, CLICK_BRIDGE, CSS, HOW_IT_WORKS
from ui.views import (
    api_decode,
    api_encode,
    api_interpolate,
    cancel_training,
    compare,
    decode_point,
    first_digit,
    gallery_items,
    gen_map,
    gen_setup,
    how_figures,
    interpolate,
    map_click,
    model_summary,
    pick_gallery,
    pick_sketch,
    pick_upload,
    poll_umap,
    projection_choices,
    random_digit,
    random_point,
    rd_points,
    reconstruct,
    resample,
    reset_point,
    sample_grid,
    show_beta,
    show_map,
    train_beta,
    use_current,
    visitor_left,
)
from ui.views import MAX_SLIDERS, MAX_TRAIN_EPOCHS, SLIDER_RANGE


def build_demo() -> gr.Blocks:
    with gr.Blocks(title="VAE latent space explorer") as demo:
        gr.Markdown("# What does a VAE learn? Explore its latent space\n"
                    "A variational autoencoder squeezed 60,000 handwritten digits into a handful of numbers "
                    "each. Drag those numbers, draw your own digit, walk between two digits, and see what "
                    "the KL weight β does.")
        with gr.Row():
            model_dd = gr.Dropdown(label="Model", choices=CTX.model_choices(), value=CTX.default_model(),
                                   scale=1, min_width=220)
            with gr.Column(scale=1, min_width=300):  # a column, so that on a phone the card wraps below
                summary = gr.Markdown(model_summary(CTX.default_model()), elem_classes="note")

        with gr.Tab("Latent map", id="map"):
            with gr.Row():
                projection = gr.Radio(["PCA", "UMAP"], value="PCA", label="Map", scale=1)
                manifold = gr.Checkbox(label="Show decoded digits under a 2-D map", value=True, scale=1)
            map_status = gr.Markdown(elem_classes="note")
            with gr.Row():
                with gr.Column(scale=3):
                    map_plot = gr.Plot(elem_id="latent-map", show_label=False)
                    map_note = gr.Markdown(elem_classes="note")
                with gr.Column(scale=1, min_width=220):
                    gr.Markdown("**Clicked point**")
                    # Hidden until the first click, so the page opens on no empty frames.
                    click_input = gr.Image(label="test digit", elem_id="click-digit", elem_classes="digit", height=180,
                                           interactive=False, visible=False)
                    click_recon = gr.Image(label="decoded", elem_id="click-decoded", elem_classes="digit", height=180,
                                           interactive=False, visible=False)
                    click_text = gr.Markdown("Click a dot on the map.")
            click_box = gr.Textbox(elem_id="map-click", show_label=False, container=False)
            click_btn = gr.Button(elem_id="map-click-btn", elem_classes="hidden-bridge")
            umap_shown = gr.State("")
            umap_timer = gr.Timer(2.0)

        with gr.Tab("Generate", id="generate"):
            gen_info = gr.Markdown(elem_classes="note")
            z_state, dims_state = gr.State([]), gr.State([])
            with gr.Row():
                # The digit comes first, so that on a phone it stays above the sliders that move it.
                with gr.Column(scale=1, min_width=240):
                    gen_image = gr.Image(label="decoded digit", elem_classes="digit", height=260, interactive=False)
                with gr.Column(scale=2):
                    sliders = [gr.Slider(-SLIDER_RANGE, SLIDER_RANGE, value=0.0, step=0.01, label=f"z{i + 1}",
                                         visible=i < 2) for i in range(MAX_SLIDERS)]
                    with gr.Row():
                        temperature = gr.Slider(0.0, 2.0, value=1.0, step=0.05, label="temperature",
                                                info="scales random draws: 0 is the centre, 1 the prior")
                    with gr.Row():
                        random_btn = gr.Button("Random sample", variant="primary")
                        reset_btn = gr.Button("Reset to the centre")
                        grid_btn = gr.Button("Grid of 36 samples")
            with gr.Row():
                gen_grid = gr.Image(label="samples from the prior", elem_classes="digit", interactive=False)
                gen_map_plot = gr.Plot(label="current point on the PCA map (updated when you let go)")

        with gr.Tab("Reconstruct", id="reconstruct"):
            digit_state, source_state = gr.State(None), gr.State("")
            with gr.Row():
                with gr.Column(scale=1):
                    with gr.Tab("Test digits"):
                        gallery = gr.Gallery(label="click a digit", columns=5, height=320, allow_preview=False)
                    with gr.Tab("Draw"):
                        sketch = gr.Sketchpad(label="draw a digit, large and centred", height=300,
                                              canvas_size=(280, 280), type="numpy", image_mode="RGBA")
                        sketch_btn = gr.Button("Encode my drawing", variant="primary")
                    with gr.Tab("Upload"):
                        upload = gr.File(label="a picture of one digit (PNG, JPEG…)", file_types=["image"],
                                         type="filepath")
                with gr.Column(scale=1):
                    with gr.Row():
                        seen = gr.Image(label="as the model sees it", elem_classes="digit", height=200, interactive=False)
                        recon = gr.Image(label="reconstruction", elem_classes="digit", height=200, interactive=False)
                    recon_text = gr.Markdown("Pick a digit from the gallery, draw one, or upload a picture.")
                    eps_btn = gr.Button("Draw ε again (8 samples of z = μ + σ·ε)")
                    eps_grid = gr.Image(label="decoded samples of q(z|x)", elem_classes="digit", height=210,
                                        interactive=False)
            with gr.Row():
                bars = gr.Plot(show_label=False)
                place = gr.Plot(show_label=False)

        with gr.Tab("Interpolate", id="interpolate"):
            a_state, b_state = gr.State(None), gr.State(None)
            with gr.Row():
                for end in ("A", "B"):
                    with gr.Column(min_width=200):
                        gr.Markdown(f"**Digit {end}**")
                        dd = gr.Dropdown([str(d) for d in range(10)], value="3" if end == "A" else "8",
                                         label="a random test digit of class")
                        btn = gr.Button(f"Pick {end}")
                        cur = gr.Button("Use the Reconstruct tab's digit", size="sm")
                        im = gr.Image(label=f"{end}", elem_classes="digit", height=130, interactive=False)
                        desc = gr.Markdown()
                        if end == "A":
                            a_dd, a_btn, a_cur, a_img, a_desc = dd, btn, cur, im, desc
                        else:
                            b_dd, b_btn, b_cur, b_img, b_desc = dd, btn, cur, im, desc
                with gr.Column(min_width=200):
                    steps = gr.Slider(2, 24, value=10, step=1, label="steps")
                    mode = gr.Radio(["linear", "spherical"], value="linear", label="path",
                                    info="spherical keeps codes at a typical distance from the centre")
                    interp_btn = gr.Button("Interpolate", variant="primary")
            strip = gr.Image(label="decoded steps from A to B", elem_classes="digit", interactive=False)
            with gr.Row():
                path_plot = gr.Plot(show_label=False)
                downloads = gr.File(label="download the strip (PNG) and an animation (GIF)", file_count="multiple")

        with gr.Tab("KL weight β", id="beta"):
            with gr.Row():
                with gr.Column(scale=1, min_width=260):
                    beta = gr.Slider(0.1, 8.0, value=1.0, step=0.1, label="β (KL weight)")
                    beta_head = gr.Markdown()
                    gr.Markdown(BETA_TEXT, elem_classes="note")
                with gr.Column(scale=2):
                    beta_recon = gr.Image(label="8 test digits (top) and their reconstructions (bottom)",
                                          elem_classes="digit", interactive=False)
                    beta_samples = gr.Image(label="16 samples from the prior (same random codes for every β)",
                                            elem_classes="digit", interactive=False)
            with gr.Row():
                rd_plot = gr.Plot(show_label=False)
                kl_plot = gr.Plot(show_label=False)
            beta_map = gr.Plot(show_label=False)
            with gr.Accordion("Train with this β", open=False):
                gr.Markdown("Fine-tunes the nearest shipped model at the slider's β for a few epochs "
                            "(about 30 s an epoch on a laptop CPU, seconds on a GPU). One run at a time "
                            "for everyone; closing the tab cancels yours.", elem_classes="note")
                with gr.Row():
                    train_epochs = gr.Slider(1, MAX_TRAIN_EPOCHS, value=3, step=1, label="epochs")
                    train_images = gr.Slider(500, 60000, value=60000, step=500, label="training images")
                with gr.Row():
                    train_btn = gr.Button("Train with this β", variant="primary")
                    cancel_btn = gr.Button("Cancel", variant="stop")
                train_status = gr.Markdown()
                train_plot = gr.Plot(show_label=False)
            with gr.Accordion("Compare two models on the same digits", open=False):
                with gr.Row():
                    cmp_a = gr.Dropdown(choices=CTX.model_choices(), value=CTX.default_model(), label="model A")
                    cmp_b = gr.Dropdown(choices=CTX.model_choices(), label="model B")
                    cmp_btn = gr.Button("Compare")
                cmp_table = gr.Markdown()
                with gr.Row():
                    cmp_ra = gr.Image(label="A: digits and reconstructions", elem_classes="digit", interactive=False)
                    cmp_rb = gr.Image(label="B: digits and reconstructions", elem_classes="digit", interactive=False)
                with gr.Row():
                    cmp_sa = gr.Image(label="A: samples", elem_classes="digit", interactive=False)
                    cmp_sb = gr.Image(label="B: samples", elem_classes="digit", interactive=False)

        with gr.Tab("How it works", id="how"):
            gr.Markdown(HOW_IT_WORKS, latex_delimiters=[{"left": "$$", "right": "$$", "display": True},
                                                        {"left": "$", "right": "$", "display": False}])
            with gr.Row():
                how_recon = gr.Image(label="encoder then decoder: test digits (top), reconstructions (bottom)",
                                     elem_classes="digit", interactive=False)
                how_samples = gr.Image(label="decoder alone: codes drawn from the prior N(0, I)",
                                       elem_classes="digit", interactive=False)

        # ------------------------------------------------------------------ wiring
        map_outputs = [map_plot, map_note, map_status]
        gen_outputs = [z_state, dims_state, gen_info, *sliders, gen_image]

        def on_model(name):
            choices = projection_choices(name) if name else ["PCA"]
            return (model_summary(name), gr.update(choices=choices, value=choices[0]),
                    gr.update(visible=choices == ["2-D latent"]))

        model_dd.change(on_model, model_dd, [summary, projection, manifold], api_name=False).then(
            show_map, [model_dd, projection, manifold], map_outputs, api_name=False).then(
            gen_setup, model_dd, gen_outputs, api_name=False).then(
            gen_map, [model_dd, z_state], gen_map_plot, api_name=False)
        projection.input(show_map, [model_dd, projection, manifold], map_outputs, api_name="latent_map")
        manifold.input(show_map, [model_dd, projection, manifold], map_outputs, api_name=False)
        umap_timer.tick(poll_umap, [model_dd, projection, manifold, umap_shown],
                        [map_plot, map_status, umap_shown], api_name=False, show_progress="hidden")
        click_btn.click(map_click, [model_dd, click_box], [click_input, click_recon, click_text],
                        api_name="map_click", show_progress="hidden", trigger_mode="always_last",
                        js="(name, payload) => [name, window.__vaeClick || payload]")

        for s in sliders:
            s.input(decode_point, [model_dd, z_state, dims_state, *sliders], [gen_image, z_state],
                    api_name=False, show_progress="hidden", trigger_mode="always_last")
            s.release(gen_map, [model_dd, z_state], gen_map_plot, api_name=False, show_progress="hidden")
        random_btn.click(random_point, [model_dd, dims_state, temperature], [z_state, gen_image, *sliders],
                         api_name="random_sample").then(gen_map, [model_dd, z_state], gen_map_plot, api_name=False)
        reset_btn.click(reset_point, [model_dd, dims_state], [z_state, gen_image, *sliders], api_name=False).then(
            gen_map, [model_dd, z_state], gen_map_plot, api_name=False)
        grid_btn.click(sample_grid, [model_dd, temperature], gen_grid, api_name="sample_grid")

        recon_outputs = [seen, recon, bars, place, recon_text, eps_grid]
        picked = [digit_state, source_state, *recon_outputs]
        gallery.select(pick_gallery, model_dd, picked, api_name=False)
        sketch_btn.click(pick_sketch, [model_dd, sketch], picked, api_name="encode_sketch")
        upload.upload(pick_upload, [model_dd, upload], picked, api_name="encode_upload")
        model_dd.change(reconstruct, [model_dd, digit_state, source_state], recon_outputs, api_name=False)
        eps_btn.click(resample, [model_dd, digit_state], eps_grid, api_name="resample")

        a_btn.click(random_digit, a_dd, [a_state, a_img, a_desc], api_name="random_digit")
        b_btn.click(random_digit, b_dd, [b_state, b_img, b_desc], api_name="random_digit_b")
        a_cur.click(use_current, [digit_state, source_state], [a_state, a_img, a_desc], api_name=False)
        b_cur.click(use_current, [digit_state, source_state], [b_state, b_img, b_desc], api_name=False)
        interp_btn.click(interpolate, [model_dd, a_state, b_state, steps, mode], [strip, path_plot, downloads],
                         api_name="interpolate")

        beta_outputs = [beta_head, beta_recon, beta_samples, beta_map, rd_plot, kl_plot]
        beta.release(show_beta, beta, beta_outputs, api_name="show_beta")
        train_evt = train_btn.click(train_beta, [beta, train_epochs, train_images], [train_status, train_plot, model_dd],
                                    api_name="train", concurrency_limit=3)
        train_evt.then(lambda: [gr.update(choices=CTX.model_choices())] * 2, None, [cmp_a, cmp_b], api_name=False)
        cancel_btn.click(cancel_training, None, train_status, api_name="cancel_training")
        cmp_btn.click(compare, [cmp_a, cmp_b], [cmp_ra, cmp_sa, cmp_rb, cmp_sb, cmp_table], api_name="compare")

        def on_load(name):
            CTX.registry.refresh()  # models trained by other visitors since this page was built
            value = name if name in CTX.registry.names() else CTX.default_model()
            return gr.update(choices=CTX.model_choices(), value=value), gallery_items()

        demo.load(on_load, model_dd, [model_dd, gallery], api_name=False).then(
            on_model, model_dd, [summary, projection, manifold], api_name=False).then(
            show_map, [model_dd, projection, manifold], map_outputs, api_name=False).then(
            gen_setup, model_dd, gen_outputs, api_name=False).then(
            gen_map, [model_dd, z_state], gen_map_plot, api_name=False).then(
            sample_grid, [model_dd, temperature], gen_grid, api_name=False).then(
            first_digit, model_dd, picked, api_name=False).then(
            show_beta, beta, beta_outputs, api_name=False).then(
            how_figures, model_dd, [how_recon, how_samples], api_name=False)
        demo.unload(visitor_left)
        gr.api(api_decode, api_name="decode")
        gr.api(api_encode, api_name="encode")
        gr.api(api_interpolate, api_name="interpolate_codes")
    return demo


demo = build_demo()


# ============================================================================ launch


def warm_up(name: str | None) -> None:
    """Background start-up work: load the default model and embed the test set, so first clicks are quick."""
    if name is None or CTX.test_images() is None:
        return
    try:
        CTX.registry.embedding(name, CTX.test_images())
        for d in CTX.ladder():
            CTX.registry.embedding(d["name"], CTX.test_images())
        rd_points()  # the beta view's rate-distortion chart
    except Exception as e:  # start-up must never fail on a bad model; the views say what is wrong
        print(f"warm-up: {e}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="VAE latent space explorer")
    parser.add_argument("--host", default=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
                        help="address to bind (default 127.0.0.1; Spaces sets GRADIO_SERVER_NAME)")
    parser.add_argument("--port", type=int, default=int(os.environ.get("GRADIO_SERVER_PORT", "7860")))
    parser.add_argument("--share", action="store_true", help="also serve through a public Gradio link")
    parser.add_argument("--data-dir", default=None, help="folder with the MNIST files (else $VAE_DATA_DIR, else ./data)")
    args = parser.parse_args(argv)
    CTX.data_dir = args.data_dir
    threading.Thread(target=warm_up, args=(CTX.default_model(),), daemon=True, name="warm-up").start()
    demo.queue(default_concurrency_limit=8, max_size=64).launch(
        server_name=args.host, server_port=args.port, share=args.share, max_file_size="20mb",
        css=CSS, head=CLICK_BRIDGE, footer_links=["api"])


if __name__ == "__main__":
    main()
