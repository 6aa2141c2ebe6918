"""The pages' side of training in the app (the scheduling is trainer.py's): joining the trainer's line
with a job whose model joins the visitor's list when it ends, Cancel, the visitor leaving, and the
sentences both training views say.
"""

from __future__ import annotations

import logging
from pathlib import Path

import gradio as gr

from vae_core import data
from vae_core.config import TrainConfig
from vae_core.model import ModelConfig
from vae_core.worker import Outcome

from .common import concepts_of, refuse, without_folders
from .guard import visitor_address
from .page import session_of
from .state import CTX, NoRoom
from .trainer import TRAINER, Job, Refused, Waiting

log = logging.getLogger("vae_explorer")
NO_TRAINING_DATA = ("Training needs the 60,000 MNIST training digits, which this app did not find: start it with "
                    "--data-dir DIR or set VAE_DATA_DIR to a folder holding the four MNIST files.")
_unload_registered: set[int] = set()


def join(request: gr.Request, kind: str, name: str, model_cfg: ModelConfig, cfg: TrainConfig, images: int,
         init_from: str | Path | None = None, run_info: dict | None = None, watch: tuple | None = None):
    """A place in the trainer's line for the visitor's run of a model called `name`; its model joins their
    list once it has finished an epoch. Refused with the page's sentence."""
    owner = session_of(request)  # the model's: the visitor, whichever of their pages asked
    out = CTX.registry.user_dir / name

    def started():
        try:
            CTX.make_room(owner)
        except NoRoom as e:  # others trained meanwhile
            raise Refused(str(e)) from None
        CTX.training_now.add(name)

    def finished(outcome: Outcome):
        CTX.training_now.discard(name)
        if outcome.error is None and outcome.epochs and (out / "config.json").exists():
            CTX.registry.add(out, owner=owner)
            if CTX.test_images(name) is not None:  # its classes and scores, ready before Reconstruct asks
                CTX.background.start(concepts_of, name)

    job = Job(kind, model_cfg, cfg, str(data.resolve_data_dir(CTX.data_dir)), out, images,
              init_from=None if init_from is None else Path(init_from), run_info=run_info, watch=watch,
              started=started, finished=finished)
    try:
        CTX.make_room(owner)  # refused here, before it waits in line, when there is no room for its model
        return TRAINER.submit(job, page_of(request), visitor_address(request))
    except (Refused, NoRoom) as e:
        raise refuse(str(e)) from None


def follow(ticket):
    """The run's news as it happens (trainer.Trainer.follow)."""
    return TRAINER.follow(ticket)


def in_words(waiting: Waiting) -> str:
    """A place in line as the page says it: "3rd in line, about 1 min"."""
    n = waiting.position
    nth = {1: "next", 2: "2nd", 3: "3rd"}.get(n, f"{n}th")
    seconds = max(5, int(round(waiting.seconds / 5) * 5))
    when = f"{seconds} s" if seconds < 90 else f"{round(seconds / 60)} min"
    return f"{nth} in line for the trainer, starting in about {when}" if n > 1 else \
        f"next in line for the trainer, starting in about {when}"


def finished_model(outcome: Outcome, name: str) -> str:
    """The page's sentence for a run that ended without a model (the whole error goes to the log)."""
    if outcome.error is not None:
        log.warning("training stopped: %s", outcome.error)
        return f"Training stopped: {without_folders(outcome.error).rstrip('.')}. Nothing was added."
    return f"Cancelled before the first pass ended: nothing was saved as {name}."


def page_of(request: gr.Request) -> str:
    """The page a run belongs to (its tab): the one whose Cancel, or closing, stops it."""
    return getattr(request, "session_hash", None) or "anonymous"


def cancel(request: gr.Request) -> str:
    """Cancel: the run of this page, waiting or running."""
    stopped = TRAINER.cancel(page_of(request))
    return "Cancelling your run…" if stopped else "You have no run to cancel."


def visitor_left(request: gr.Request) -> None:
    """A visitor who closes the tab cancels its run."""
    TRAINER.cancel(page_of(request))


def cancel_button(button: gr.Button, status: gr.Markdown) -> None:
    """Wire a view's Cancel; the page's unload (closing the tab) cancels too, registered once per page."""
    demo = gr.context.Context.root_block
    first = id(demo) not in _unload_registered
    button.click(cancel, None, status, api_name="cancel_training" if first else False, show_progress="hidden")
    if first:
        _unload_registered.add(id(demo))
        demo.unload(visitor_left)
