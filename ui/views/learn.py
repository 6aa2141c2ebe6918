"""Watch a model learn: a new 2-number model trains from nothing on a few thousand digits, and the page
shows its map sorting itself out (where it puts 1,000 test digits) and its drawings sharpening, frame by
frame; afterwards the visitor goes over the frames again, by dragging or with Play.

The frames are drawn by the visitor's browser (this view's player): the server only sends each frame's
codes and drawing. Pressing Start plays at once a recording of a real run of the same recipe, shipped
with the app (ui/recordings), while the visitor's own run waits its turn with the trainer (ui/trainer.py),
which a whole class shares; their own frames take over as soon as it starts.
"""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path

import gradio as gr
import numpy as np

from vae_core import images, watch
from vae_core.config import TrainConfig
from vae_core.model import ModelConfig
from vae_core.worker import Outcome

from .. import figures, trainer
from ..drawing import serve_file
from ..common import Limit, need_test_images, refuse
from ..state import CTX, trained_model_name
from ..training import NO_TRAINING_DATA, cancel_button, finished_model, follow, in_words, join

TITLE, ID = "Watch it learn", "learn"
DIGITS = Limit(1000, 10000, 3000, 500)  # training digits: 3,000 x 10 passes take about 25 s on 2 CPU cores
PASSES = Limit(1, 20, 10, 1)
FRAMES = 40  # snapshots asked for over a run (the first steps are closer together; a few coincide)
WATCHED = 1000  # test digits whose codes are drawn on the map
SHOW_EVERY_SECONDS = 0.5  # while training, a new frame to the page at most this often
RANGE = watch.EXTENT + 1.0  # the map's half-width: fixed, so that frames compare
RECORDING = Path(__file__).resolve().parents[1] / "recordings" / "watch-it-learn.json"
RECORDING_URL = serve_file(RECORDING, b"application/json")
CSS = """
#learn-player .learn-stage { display: flex; flex-wrap: wrap; gap: 12px; align-items: flex-start; }
#learn-player .learn-map { width: min(440px, 100%); aspect-ratio: 1; border: 1px solid var(--border-color-primary); }
#learn-player .learn-drawn { width: min(300px, 100%); image-rendering: pixelated; }
#learn-player .learn-caption { font-size: 0.95rem; margin: 4px 0; min-height: 1.4em; }
#learn-player .learn-legend span { display: inline-block; margin-right: 10px; font-size: 0.85rem; }
#learn-player .learn-legend i { display: inline-block; width: 10px; height: 10px; border-radius: 5px; margin-right: 3px; }
#learn-player .learn-controls { display: flex; gap: 10px; align-items: center; margin-top: 6px; }
#learn-player .learn-controls input { flex: 1; }
#learn-player .learn-idle .learn-body { display: none; }
"""


def render(page) -> None:
    gr.Markdown("**Watch a model learn from nothing.** A new model starts as random numbers: it puts every "
                "digit in the same grey blob and draws only fog. Press *Start learning*: it studies a few thousand "
                "handwritten digits, a few times over, and you watch the digits sort themselves into groups "
                "(one dot per test digit, coloured by what it really is) and the fog turn into digits "
                "(what it draws at each spot). Its *loss* says how badly it draws digits back: it falls as it "
                "learns. About half a minute here. It always learns handwritten digits, whichever model the "
                "menu at the top shows.", elem_classes="note")
    with gr.Row(elem_id="learn-settings"):
        digits = DIGITS.slider("digits to learn from", min_width=220)
        passes = PASSES.slider("passes over them", min_width=220)
    with gr.Row():
        start_btn = gr.Button("Start learning", variant="primary", elem_id="learn-start")
        cancel_btn = gr.Button("Cancel", variant="secondary")
    status = gr.Markdown(elem_id="learn-status")
    player = gr.HTML(None, html_template=PLAYER_HTML, js_on_load=PLAYER_JS, elem_id="learn-player",
                     elem_classes=["learn-idle"], padding=False, colours=figures.DIGIT_COLOURS, range=RANGE)

    page.models_added.append(start_btn.click(learn, [digits, passes], [status, player], api_name="watch_learn",
                                             concurrency_limit=trainer.LINE_SIZE, show_progress="hidden"))
    cancel_button(cancel_btn, status)


async def learn(digits: float, passes: float, request: gr.Request):
    """A new 2-D model trained from scratch; the recording plays while it waits, then its own frames."""
    n, epochs = int(DIGITS.check(digits, "digits to learn from")), int(PASSES.check(passes, "passes"))
    if CTX.mnist() is None:
        raise refuse(NO_TRAINING_DATA)
    watched = need_test_images(None)[:WATCHED]  # MNIST's, as it learns digits
    labels = CTX.test_labels(None)[:WATCHED].tolist()
    name = trained_model_name("learn-z2")
    cfg = TrainConfig(epochs=epochs, val_size=0, train_limit=n)
    run_info = {"preset": "default", "save_optimizer": False, "command": f"app: watch a model learn ({n} digits)"}
    ticket = join(request, "learn", name, ModelConfig(latent_dim=2), cfg, n, run_info=run_info,
                  watch=(watched.numpy(), FRAMES))
    shown_at, frames, t0 = 0.0, [], time.monotonic()
    recording = {"recording": RECORDING_URL, "labels": labels}
    async for news in follow(ticket):
        if isinstance(news, trainer.Waiting):
            yield (f"**While yours waits, a recording of a real run of the same recipe** (3,000 digits, 10 passes). "
                   f"Your model: {in_words(news)}."), recording
            continue
        if isinstance(news, trainer.Running):
            frames += [page_frame(u, epochs) for u in news.updates if isinstance(u, watch.Frame)]
            if frames and time.monotonic() - shown_at >= SHOW_EVERY_SECONDS:
                shown_at, last = time.monotonic(), frames[-1]
                yield (f"**Your model is learning**: pass {last['epoch']} of {epochs}, {last['images_seen']:,} "
                       f"digits studied so far ({time.monotonic() - t0:.0f} s)."), {**recording, "frames": frames}
            elif not frames:
                yield "**Your model is starting** (a few seconds)…", recording
            continue
        yield _done(news.outcome, name, time.monotonic() - t0), {**recording, "frames": frames, "done": True}


def _done(outcome: Outcome, name: str, seconds: float) -> str:
    if outcome.error is not None:
        return finished_model(outcome, name)
    if not outcome.epochs:
        return ("Cancelled before the first pass ended: no model was kept." if outcome.cancelled else
                finished_model(outcome, name))
    stopped = " (cancelled: it kept the passes it finished)" if outcome.cancelled else ""
    return (f"**Done in {seconds:.0f} s**{stopped}. Nobody told the model which digit is which: the map shows how "
            f"far it got in putting digits of a kind near each other (more digits or more passes sort them better). "
            f"Drag the slider or press *Play* to watch it again. It is in the model menu as **{name}**: open "
            f"*Latent map* to explore it.")


def page_frame(frame: watch.Frame, epochs: int) -> dict:
    """A frame as the player draws it: the codes as 16-bit numbers across the map's square (base64), the
    drawing as a PNG, and where in the run it was."""
    codes = np.clip((np.asarray(frame.codes) + RANGE) / (2 * RANGE), 0, 1)
    drawn = images.png_bytes(np.asarray(frame.drawn, dtype=np.uint8))
    return {"epochs": epochs, "step": frame.step, "images_seen": frame.images_seen, "epoch": frame.epoch,
            "loss": round(float(frame.loss), 1),
            "codes": base64.b64encode((codes * 65535).round().astype("<u2").tobytes()).decode(),
            "drawn": "data:image/png;base64," + base64.b64encode(drawn).decode()}


def save_recording(frames: list[dict], labels: list[int], recipe: dict, path: Path = RECORDING) -> None:
    """Write a run's page frames as the recording the view plays (scripts/record_learning.py)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"recipe": recipe, "labels": labels, "frames": frames}, separators=(",", ":")))


PLAYER_HTML = """<div class="learn-body">
<div class="learn-caption" aria-live="polite"></div>
<div class="learn-stage">
  <canvas class="learn-map" width="440" height="440" role="img"></canvas>
  <figure style="margin:0"><img class="learn-drawn" alt=""><figcaption class="note">what it draws at each spot
  of the map</figcaption></figure>
</div>
<div class="learn-legend"></div>
<div class="learn-controls">
  <input class="learn-moment" type="range" min="0" max="0" value="0" aria-label="moment in its training">
  <button class="learn-play lg secondary">▶ Play it again</button>
</div></div>"""

# The player: the recording while the visitor's run waits, then their frames as they come; afterwards the
# slider and Play go over them. Dots are drawn on a canvas (1,000 a frame, a few times a second).
PLAYER_JS = """
const map = element.querySelector('.learn-map'), drawn = element.querySelector('.learn-drawn');
const caption = element.querySelector('.learn-caption'), moment = element.querySelector('.learn-moment');
const play = element.querySelector('.learn-play'), legend = element.querySelector('.learn-legend');
const ctx = map.getContext('2d');
let frames = [], labels = [], source = null, timer = null, recording = null, own = false;
legend.innerHTML = props.colours.map((c, d) => `<span><i style="background:${c}"></i>${d}</span>`).join('');

function draw(i) {
  const f = frames[i];
  if (!f) return;
  const raw = atob(f.codes), n = raw.length / 4, w = map.width, h = map.height;
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, w, h);
  for (let k = 0; k < n; k++) {
    const x = (raw.charCodeAt(4 * k) | raw.charCodeAt(4 * k + 1) << 8) / 65535;
    const y = (raw.charCodeAt(4 * k + 2) | raw.charCodeAt(4 * k + 3) << 8) / 65535;
    ctx.fillStyle = props.colours[labels[k] % props.colours.length];
    ctx.beginPath();
    ctx.arc(x * w, (1 - y) * h, 2.6, 0, 2 * Math.PI);
    ctx.fill();
  }
  drawn.src = f.drawn;
  moment.value = i;
  const words = `After ${f.images_seen.toLocaleString('en')} digits (pass ${f.epoch} of ${f.epochs}): loss ${Math.round(f.loss)}`;
  caption.textContent = (own ? 'Your model. ' : 'Recording of a real run. ') + words;
  map.setAttribute('aria-label', `The map of 1,000 test digits, coloured by digit. ${words}.`);
  map.dataset.title = words;
  map.dataset.frame = String(i);
}
function stop() { clearInterval(timer); timer = null; }
function playFrom(i, loop) {
  stop();
  let k = i;
  draw(k);
  timer = setInterval(() => {
    k += 1;
    if (k >= frames.length) { if (!loop) return stop(); k = 0; }
    draw(k);
  }, 300);
}
function show(list, isOwn, done) {
  const fresh = frames !== list;
  frames = list;
  own = isOwn;
  moment.max = String(Math.max(0, frames.length - 1));
  element.classList.remove('learn-idle');
  if (!isOwn) { if (fresh) playFrom(0, true); return; }
  stop();
  draw(frames.length - 1);
  map.dataset.done = done ? '1' : '';
}
moment.addEventListener('input', () => { stop(); draw(Number(moment.value)); });
play.addEventListener('click', () => playFrom(0, false));
async function update() {
  const v = props.value;
  if (!v) return;
  labels = v.labels || labels;
  if (v.frames && v.frames.length) return show(v.frames, true, v.done);
  if (v.recording && !own) {
    recording = recording || await (await fetch(new URL(v.recording, document.baseURI))).json();
    if (!own) show(recording.frames, false, false);
  }
}
watch('value', update);
update();
"""

