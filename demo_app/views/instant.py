"""The "Instant styles" card: trained generators (Li et al. 2019's HRNet, nstcore.generator) applied to the content
image in one forward pass, well under a second, instead of a run.

It lists the server's generators (``--generators DIR``: a host trains them before a workshop, ``python -m nstcore
train``) and the one this session trained last (Run settings → *Paint with* hrnet, or *Train for any photo* here: the
content image and the sample photos, random crops, :func:`nstcore.train`), applies the chosen one to the content
image, or to another photo dropped here, at the run size on a worker thread, shows the result, and offers it and the
session's generator for download. Built when the card is first opened.
"""

from __future__ import annotations

import html
import io
import time
from functools import partial
from typing import Any

import panel as pn
import param

import nstcore

from ..jobs.gate import Refused
from ..session.imaging import PreparedImage, encode_jpeg, encode_png
from ..session.state import SessionState
from .loop import decoder, in_background
from .reach import primary_button
from .uploads import image_uploader
from .widgets import LazyCard, clicks

OWN = "this session's generator"
NONE_YET = "(none yet: train one below, or run with Paint with = hrnet)"
HELP = (
    "A generator trained by a run with **Paint with = hrnet** (Run settings) paints any photo in one pass. Pick one "
    "and apply it to the content image, or drop another photo below. The host can offer ready-made ones to everyone "
    "(`--generators DIR`)."
)
TRAIN_HELP = (
    "**Train for any photo**: one generator learns the style on random crops of your photo and {samples}, "
    "so it also paints photos it never saw. Size and steps come from Run settings (a few hundred steps)."
)


TRAINING_NOTE = "Training: the main picture shows your photo through the generator as it learns."


class InstantView(LazyCard):
    """The card's widgets for one session (built when the card is first opened)."""

    applied = param.Integer(default=0, doc="Instant styles applied (tests).")

    def __init__(self, state: SessionState, **params) -> None:
        super().__init__("Instant styles", "nst-instant-card", **params)
        self.state = state
        self._result: bytes | None = None
        self._own_file: bytes | None = None
        self._other: PreparedImage | None = None  # a photo dropped here: applied to instead of the content image
        self._content_seen: PreparedImage | None = state.content_image

    def build(self) -> None:
        self.choice = pn.widgets.Select(label="Generator", options=[NONE_YET], width=270, css_classes=["nst-instant"])
        self.apply = pn.widgets.Button(label="Apply to the content image", width=220, css_classes=["nst-apply"])
        self.apply.on_click(clicks(self._apply))
        self.other_upload = image_uploader(
            self.state.limits.max_upload_bytes,
            "upload-instant-photo",
            self._photo_uploaded,
            self._refused,
            self.state.upload_budget(),
        )
        self.train = primary_button("Train for any photo", width=220, css_classes=["nst-train-any"])
        self.train.on_click(clicks(self._train))
        photos = len(self.state.training_photos()) - 1 if self.state.content_image is not None else 0
        self.result = pn.pane.JPG(
            None, width=270, css_classes=["nst-instant-result"], alt_text="The photo in the instant style"
        )
        self.note = pn.pane.HTML("", styles={"font-size": "12px"}, margin=(0, 10))
        self.result_download = pn.widgets.FileDownload(
            callback=lambda: io.BytesIO(self._result or b""),
            filename="nst-instant.png",
            label="Download result (PNG)",
            width=200,
            disabled=True,
        )
        self.own_download = pn.widgets.FileDownload(
            callback=lambda: io.BytesIO(self._own_file or b""),
            filename="nst-generator.pt",
            label="Download this session's generator",
            width=260,
            disabled=True,
        )
        self.body.objects = [
            pn.pane.Markdown(HELP, styles={"font-size": "13px"}, margin=(0, 10)),
            self.choice,
            self.apply,
            self.other_upload,
            self.note,
            self.result,
            self.result_download,
            self.own_download,
            pn.pane.Markdown(
                TRAIN_HELP.format(samples=f"{photos} sample photo{'s' if photos != 1 else ''}"),
                styles={"font-size": "13px"},
                margin=(8, 10, 0, 10),
            ),
            self.train,
        ]
        self.state.param.watch(lambda e: self._refresh(), "trained_version")
        self.state.param.watch(lambda e: self._use_content(), "images_version")
        self.state.param.watch(self._running, "running")
        self.train.disabled = self.state.running
        self._refresh()

    def _refresh(self) -> None:
        """The choices (the server's folder and this session's generator), and the session's generator as a file."""
        names = self.state.backend.generator_names()
        options = ([OWN] if self.state.trained else []) + names
        self.choice.options = options or [NONE_YET]
        if self.state.trained and self.state.trained_version:
            self.choice.value = OWN
        self.apply.disabled = not options
        trained = self.state.trained
        if trained is not None:
            weights, config = trained

            def ready(data: bytes) -> None:
                self._own_file = data
                self.own_download.disabled = False

            in_background(lambda: nstcore_generator().generator_bytes(weights, config), ready)

    def _use_content(self) -> None:
        """A new content image (not a new style): apply to it again, not to a photo dropped here earlier."""
        if self.state.content_image is self._content_seen:
            return
        self._content_seen = self.state.content_image
        self._other = None
        self.apply.name = "Apply to the content image"

    def _train(self) -> None:
        if self.state.start_training():
            self.note.object = TRAINING_NOTE

    def _running(self, event: param.parameterized.Event) -> None:
        self.train.disabled = bool(event.new)
        if not event.new and self.note.object == TRAINING_NOTE:  # a note about a state that has ended goes with it
            self.note.object = ""

    def _photo_uploaded(self, filename: str, data: bytes) -> None:
        state = self.state

        def ready(prepared: PreparedImage) -> None:
            self._other = prepared
            self.apply.name = "Apply to the dropped photo"
            self._apply()

        decoder(state).submit(
            "instant-photo",
            partial(state.prepare_upload, data, filename),
            ready,
            partial(state.upload_failed, filename, "The upload"),
        )

    def _refused(self, filename: str, size: int) -> None:
        self.state.upload_too_large(filename, "The upload")

    def _apply(self) -> None:
        state, name = self.state, str(self.choice.value)
        other = self._other
        content, size = (other.image if other is not None else state.content), state.size
        trained = state.trained
        if content is None or name == NONE_YET:
            return

        def apply() -> tuple[bytes, bytes, float]:
            generator = nstcore_generator()
            if name == OWN:
                assert trained is not None
                model = generator.generator_from_weights(*trained)
            else:
                model, _ = state.backend.generator(name)
            start = time.perf_counter()
            out = generator.stylise(model, content, size)
            elapsed = time.perf_counter() - start
            return encode_jpeg(out), encode_png(out), elapsed

        def show(result: tuple[bytes, bytes, float]) -> None:
            jpeg, png, elapsed = result
            self.result.object, self._result = jpeg, png
            self.result_download.disabled = False
            where = f" to {html.escape(other.name)}" if other is not None else ""
            self.note.object = f"Applied{where} in {elapsed * 1000:.0f} ms at {size} px."
            self.applied += 1

        def failed(exc: BaseException) -> None:
            if isinstance(exc, nstcore.NSTError):
                state.error = str(exc)
            else:
                state.error = "That instant style could not be applied; try another."
                state.log_failure("instant style", exc)

        try:  # the same size limit as a run: an instant style at 2048 px once took 24 s and 6 GB
            state.backend.gate.check_size(state.limits, size, content.size)
        except Refused as exc:
            state.error = str(exc)
            return
        work = state.gated("apply", "An instant style", apply)
        if work is None:
            return
        self.note.object = "Applying…"
        in_background(work, show, failed)


def nstcore_generator() -> Any:
    """nstcore.generator, imported where it is used (it loads the network code)."""
    from nstcore import generator

    return generator
