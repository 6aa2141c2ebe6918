"""The launched app, driven through gradio_client: every event, with good and bad input."""

import json
import re
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import MAIN, SHARED_CACHE, launch_app

gradio_client = pytest.importorskip("gradio_client")
from gradio_client import Client, handle_file  # noqa: E402


@pytest.fixture(scope="module")
def app(app_server):
    return app_server


@pytest.fixture(scope="module")
def client(app):
    return Client(app[0], verbose=False)


def _error(call) -> str:
    with pytest.raises(Exception) as e:
        call()
    return str(e.value)


def test_decode(client):
    out = client.predict(MAIN, [0.0] * 32, api_name="/decode")
    image = np.array(out["image"])
    assert image.shape == (28, 28) and 0 <= image.min() and image.max() <= 1 and image.max() > 0.5
    assert "list of 32 numbers" in _error(lambda: client.predict(MAIN, [0.0] * 3, api_name="/decode"))
    assert "between -10 and 10" in _error(lambda: client.predict(MAIN, [1e9] + [0.0] * 31, api_name="/decode"))
    assert "no model called" in _error(lambda: client.predict("nope", [0.0] * 32, api_name="/decode")).lower()


def test_encode_and_reconstruct(client, mnist):
    digit = (mnist.test_images[0].float() / 255).tolist()
    out = client.predict(MAIN, digit, api_name="/encode")
    assert len(out["mu"]) == len(out["sigma"]) == 32 and min(out["sigma"]) > 0
    recon = np.array(out["reconstruction"])
    assert np.abs(recon - np.array(digit)).mean() < 0.1  # a good model reconstructs its test digit
    assert "28 rows of 28" in _error(lambda: client.predict(MAIN, [[0.5] * 5], api_name="/encode"))
    assert "28 rows of 28" in _error(lambda: client.predict(MAIN, [[2.0] * 28] * 28, api_name="/encode"))


def test_recognise_says_which_digit_and_how_digit_like(client, mnist):
    digit = (mnist.test_images[3].float() / 255).tolist()
    out = client.predict(MAIN, digit, api_name="/recognise")
    assert out["digit"] == int(mnist.test_labels[3]) and len(out["probabilities"]) == 10
    assert 1 < out["percentile"] <= 100 and out["bound_nats"] < 0  # a real digit, scored in nats
    noise = torch.rand(28, 28, generator=torch.Generator().manual_seed(1)).tolist()
    assert client.predict(MAIN, noise, api_name="/recognise")["percentile"] < 1  # not a digit, to the model
    assert "28 rows of 28" in _error(lambda: client.predict(MAIN, [[0.5] * 5], api_name="/recognise"))


def test_upload_good_and_bad_files(client, tmp_path):
    good = tmp_path / "seven.png"
    a = np.full((200, 160, 3), 250, dtype=np.uint8)
    a[30:50, 30:130] = 20
    a[50:170, 100:120] = 20
    Image.fromarray(a).save(good)
    seen, recon, bars, place, text, samples, morph_to, morph_text, morph = client.predict(
        MAIN, handle_file(str(good)), api_name="/encode_upload")
    assert morph_to is None and morph["codes"] is None  # a new digit: no morph of the old one left on screen
    assert Image.open(seen).size == (224, 224) and "your upload" in text
    assert Image.open(samples).size[0] > 4 * 28  # eight decoded draws of z ~ q(z|x), shown with no extra click
    # The upload is this visitor's digit now: one call morphs it into a 0 (the walk on the map, its frames).
    place, words, frames = client.predict(MAIN, "0", None, api_name="/morph")
    assert "morph into a 0" in json.dumps(place) and words.startswith("**Your upload → a 0**")
    assert frames["animate"] and len(frames["pixels"]) == 16
    text = tmp_path / "notes.png"
    text.write_text("not an image at all")
    assert "not an image" in _error(lambda: client.predict(MAIN, handle_file(str(text)), api_name="/encode_upload"))
    huge = tmp_path / "huge.png"
    Image.new("L", (5000, 5000), 255).save(huge)
    assert "limit" in _error(lambda: client.predict(MAIN, handle_file(str(huge)), api_name="/encode_upload"))


def test_an_empty_sketch_changes_nothing(app, tmp_path):
    blank = tmp_path / "blank.png"
    Image.new("RGBA", (280, 280), (0, 0, 0, 0)).save(blank)
    sketch = {"background": None, "layers": [], "composite": handle_file(str(blank))}
    fresh = Client(app[0], verbose=False)  # a visitor with no digit yet: told what to do
    assert "Nothing is drawn yet" in _error(lambda: fresh.predict(MAIN, sketch, api_name="/encode_sketch"))
    fresh.predict("3", api_name="/random_digit")  # (Interpolate's pick does not change the current digit)
    good = tmp_path / "one.png"
    a = np.full((200, 200), 250, dtype=np.uint8)
    a[30:170, 90:110] = 20
    Image.fromarray(a).save(good)
    fresh.predict(MAIN, handle_file(str(good)), api_name="/encode_upload")
    # With a digit shown, an empty pad keeps showing it (a yellow note on the page, no error).
    text = fresh.predict(MAIN, sketch, api_name="/encode_sketch")[4]
    assert "your upload" in text


def test_interpolate_ends_match_reconstructions(client):
    out = client.predict(MAIN, 3, 8, 6, "spherical", api_name="/interpolate_codes")
    frames, codes = np.array(out["frames"]), np.array(out["codes"])
    assert frames.shape == (6, 28, 28) and codes.shape == (6, 32)
    end = np.array(client.predict(MAIN, codes[-1].tolist(), api_name="/decode")["image"])
    assert np.abs(end - frames[-1]).max() < 1e-3
    assert "steps" in _error(lambda: client.predict(MAIN, 3, 8, 500, "linear", api_name="/interpolate_codes"))
    assert "test image index" in _error(lambda: client.predict(MAIN, -1, 8, 5, "linear", api_name="/interpolate_codes"))


def test_interpolate_event_writes_png_and_gif(client):
    assert "both ends" in _error(lambda: client.predict(MAIN, 8, "linear", None, api_name="/interpolate"))
    client.predict("3", api_name="/random_digit")  # end A of this session
    client.predict("8", api_name="/random_digit_b")
    strip, plot, animation, files = client.predict(MAIN, 8, "linear", None, api_name="/interpolate")
    assert len(strip["codes"]) == len(strip["pixels"]) == 8 and animation["animate"]  # drawn by the page
    names = sorted(Path(f).name for f in files)
    assert names == ["interpolation.gif", "interpolation.png"]
    gif = Image.open(next(f for f in files if f.endswith(".gif")))
    assert gif.n_frames == 14  # 8 steps forward and 6 back
    png = Image.open(next(f for f in files if f.endswith(".png")))
    assert png.size[0] > png.size[1]  # a strip


def test_latent_map_and_click(client):
    fig, note, status, _ = client.predict(MAIN, "PCA", True, api_name="/latent_map")
    assert "real handwritten digit" in note and "PCA of the 32-D codes" in json.dumps(fig)
    image, recon, text = client.predict(MAIN, json.dumps({"index": 7}), None, api_name="/map_click")
    assert "Test image #7" in text and len(recon["pixels"]) == 1
    assert "unreadable" in _error(lambda: client.predict(MAIN, "{not json", None, api_name="/map_click"))
    assert "no test image" in _error(lambda: client.predict(MAIN, json.dumps({"index": 10**7}), None,
                                                            api_name="/map_click")).lower()


def test_random_sample_and_the_sample_grid(client):
    from ui.drawing import as_array
    centre, *sliders = client.predict(MAIN, None, 0.0, api_name="/random_sample")  # temperature 0: the centre
    decoded = np.array(client.predict(MAIN, [0.0] * 32, api_name="/decode")["image"])
    assert np.abs(as_array(centre)[0] / 255 - decoded).max() <= 0.5 / 255 + 1e-4  # the prior's centre, decoded
    drawn, *_ = client.predict(MAIN, None, 1.0, api_name="/random_sample")
    assert np.abs(as_array(drawn).astype(float) - as_array(centre)).mean() > 5  # a random code is another digit
    grid = Image.open(client.predict(MAIN, 1.0, api_name="/sample_grid"))
    assert grid.size[0] == grid.size[1] > 6 * 28


def test_beta_switch_shows_the_nearest_trained_beta(client):
    head, *rest = client.predict(1.0, api_name="/show_beta")
    assert f"showing **{MAIN}**, exactly this β" in head and all(r is not None for r in rest)
    head, *_ = client.predict(2.9, api_name="/show_beta")  # nearer 4 than 2 on the log scale beta lives on
    assert "showing **mnist-z32-beta4**, the nearest trained β = 4" in head


def test_beta_view_counts_active_units_as_the_model_card_does(client):
    head, *_, kl_plot = client.predict(8.0, api_name="/show_beta")
    assert "mnist-z32-beta8" in head
    title = json.loads(kl_plot["plot"])["layout"]["title"]["text"]
    metrics = json.loads((Path(__file__).resolve().parents[1] / "checkpoints/mnist-z32-beta8/metrics.json").read_text())
    assert f"{metrics['test']['active_units']} of 32 numbers in use" in title  # the card's words


@pytest.fixture(scope="module")
def trained(client):
    """The name of this client's tiny training run's model. Other tests' visitors (the browser
    tests share the server) train models of the same kind, which this client may not use."""
    job = client.submit(3.0, 1, 500, api_name="/train")  # between the rungs β = 2 and 4
    outputs = list(job)
    status = job.outputs()[-1][0]
    assert "joined the model list" in status and "The pictures above show it now." in status, outputs
    return re.search(r"\*\*(mnist-z32-beta3-\d{6}-[0-9a-f]{8})\*\*", status).group(1)


def test_tiny_training_run_adds_a_model_and_the_view_shows_it(client, app, trained):
    runs = [app[1] / "runs" / trained]
    assert (runs[0] / "model.safetensors").exists()
    assert not (runs[0] / "training_state.safetensors").exists()  # no optimizer state: a third of the disk
    # The model menus accept it by name although it was trained after the page was built.
    fig, *_ = client.predict(runs[0].name, "PCA", True, api_name="/latent_map")
    assert f"{runs[0].name}: PCA of the 32-D codes" in json.dumps(fig)


def test_watching_a_model_learn_streams_its_map_then_adds_the_model(client, app):
    job = client.submit(1000, 1, api_name="/watch_learn")
    outputs = list(job)
    status, player = job.outputs()[-1]
    assert "Done in" in status and "putting digits of a kind near each other" in status, outputs
    assert player["done"] and player["recording"].endswith("-watch-it-learn.json") and len(player["labels"]) == 1000
    frames = player["frames"]
    assert [f["images_seen"] for f in frames] == [128 * s for s in range(1, 8)] + [1000]  # a frame after each step
    name = re.search(r"\*\*(learn-z2-\d{6}-[0-9a-f]{8})\*\*", status).group(1)
    assert (app[1] / "runs" / name / "model.safetensors").exists()
    fig, *_ = client.predict(name, "PCA", True, api_name="/latent_map")  # a 2-D model: its own map
    assert f"{name}: the 2-D latent space itself" in json.dumps(fig)
    assert "maximum value 10000" in _error(lambda: client.predict(10**6, 1, api_name="/watch_learn"))


def test_the_app_starts_without_data(tmp_path):
    proc, url = launch_app(tmp_path, str(tmp_path / "no-mnist-here"), {"VAE_DATA_DIR": str(tmp_path / "none")})
    try:
        c = Client(url, verbose=False)
        assert np.array(c.predict(MAIN, [0.0] * 32, api_name="/decode")["image"]).shape == (28, 28)
        # Exploring works from the test set shipped in datasets/mnist-test ...
        fig, note, status, _ = c.predict(MAIN, "PCA", True, api_name="/latent_map")
        assert "PCA of the 32-D codes" in json.dumps(fig) and "real handwritten digit" in note
        assert np.array(c.predict(MAIN, 3, 8, 5, "linear", api_name="/interpolate_codes")["frames"]).shape == (5, 28, 28)
        head, *panels = c.predict(4.0, api_name="/show_beta")
        assert "mnist-z32-beta4" in head and all(p is not None for p in panels)
        # ... and training, which needs the training digits, says so in one line.
        assert "needs the 60,000 MNIST training digits" in _error(lambda: c.predict(1.0, 1, 500, api_name="/train"))
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_a_shipped_models_umap_is_there_at_once(client):
    fig, note, status, _ = client.predict(MAIN, "UMAP", True, api_name="/latent_map")
    assert status == "" and f"{MAIN}: UMAP of the 32-D codes" in json.dumps(fig)


def test_a_trained_models_umap_runs_in_the_background_and_is_cached_on_disk(client, app, trained):
    # A 32-D model with no shipped UMAP.
    fig, note, status, _ = client.predict(trained, "UMAP", True, api_name="/latent_map")
    assert "being computed" in status and "PCA of the 32-D codes" in json.dumps(fig)
    deadline = time.time() + 600
    while time.time() < deadline:
        fig, note, status, _ = client.predict(trained, "UMAP", True, api_name="/latent_map")
        if "UMAP of the 32-D codes" in json.dumps(fig):
            break
        time.sleep(3)
    else:
        raise AssertionError(f"UMAP never arrived: {status}")
    assert status == "" and list(SHARED_CACHE.glob("umap-*.npy"))


def test_an_oversized_request_is_refused_before_it_is_parsed(app):
    import httpx
    body = json.dumps({"data": [MAIN, [[0.5] * 2000] * 600], "fn_index": 0, "session_hash": "big"})
    r = httpx.post(app[0] + "gradio_api/queue/join", content=body, timeout=60,
                   headers={"content-type": "application/json"})
    assert r.status_code == 413 and "28 rows of 28 numbers" in r.json()["error"]


def test_a_request_missing_a_value_is_told_what_it_lacks(app):
    import httpx
    r = httpx.post(app[0] + "gradio_api/call/decode", json={"data": [MAIN]}, timeout=30)
    assert r.status_code == 400 and "decode takes 2 values and got 1" in r.json()["detail"]


def test_visitor_mistakes_are_one_log_line_each_not_a_traceback(client, app):
    for call in (lambda: client.predict(MAIN, [0.0] * 3, api_name="/decode"),
                 lambda: client.predict(MAIN, "[]", api_name="/map_click"),
                 lambda: client.predict(["x"], [0.0] * 32, api_name="/decode"),
                 lambda: client.predict(20.0, 1, 500, api_name="/train")):  # past the β slider's range
        _error(call)
    # Values no component can read answer a sentence too (they were a bare "Error" and a traceback).
    assert "does not fit its field (a slider)" in _error(lambda: client.predict("abc", api_name="/show_beta"))
    nested = '{"index": ' + "[" * 5000 + "]" * 5000 + "}"
    assert "unreadable click" in _error(lambda: client.predict(MAIN, nested, api_name="/map_click"))
    time.sleep(0.5)
    log = (app[1] / "app.log").read_text()
    assert "Traceback" not in log
    assert "refused: z must be a list of 32 numbers" in log and "refused: A map click is a JSON object" in log
    assert "refused: Value 20.0 is greater than maximum value 8.0" in log


def test_a_broken_ladder_model_is_left_out_and_the_beta_view_still_works(tmp_path, data_dir):
    import shutil
    models = tmp_path / "models"
    shutil.copytree(Path(__file__).resolve().parents[1] / "checkpoints", models)
    weights = models / "mnist-z32-beta4" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:5000])  # truncated, as a failed copy leaves it
    proc, url = launch_app(tmp_path, data_dir, {"VAE_MODELS_DIR": str(models)})
    try:
        c = Client(url, verbose=False)
        for beta in (0.1, 1.0, 4.0, 8.0):
            head, *panels = c.predict(beta, api_name="/show_beta")
            assert "mnist-z32-beta4" not in head and all(p is not None for p in panels)
        time.sleep(0.5)
        log = (tmp_path / "app.log").read_text()
        assert log.count("checkpoint left out:") >= 1 and "mnist-z32-beta4/model.safetensors" in log
        assert "Traceback" not in log
    finally:
        proc.terminate()
        proc.wait(timeout=30)
