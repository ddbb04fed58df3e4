"""The Images card: the examples, the sample pickers with their thumbnails, and the content and style uploads.

Uploads are decoded on a worker thread (:func:`~demo_app.views.loop.in_background`); the newest upload of a role
wins, so a slow large file never replaces a later small one.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import panel as pn

import nstcore

from ..session.history import data_url
from ..session.samples import DEFAULT_CONTENT, DEFAULT_STYLE, EXAMPLES, example_caption, example_thumb, sample_names
from ..session.state import SessionState
from ..session.text import file_label
from .camera import CameraButton
from .history import PictureButtons
from .loop import decoder
from .reach import PHONE_ONLY_CSS
from .uploads import UploadWatch, image_uploader

UPLOADED = "(your upload)"  # the sample menus' entry while an upload is in use, so picking a sample again works


def caption(text: str) -> pn.pane.HTML:
    """A line of our own fixed text in a card (never a visitor's)."""
    return pn.pane.HTML(text, styles={"font-size": "13px"}, margin=(6, 10, 0, 10))


class InputsView:
    """Content and style images of one session. ``on_example(content, style)`` runs when an example is pressed."""

    def __init__(self, state: SessionState, on_example: Callable[[str, str], None]) -> None:
        self.state = state
        self._on_example = on_example
        self._pending: dict[str, int] = {"content": 0, "style": 0}  # newest upload per role wins
        self._picking = False
        self.content_sample = pn.widgets.Select(
            label="Sample content",
            options=[UPLOADED, *sample_names("content")],
            value=DEFAULT_CONTENT,
            width=135,
            css_classes=["sample-content"],
        )
        self.style_sample = pn.widgets.Select(
            label="Sample style",
            options=[UPLOADED, *sample_names("style")],
            value=DEFAULT_STYLE,
            width=135,
            css_classes=["sample-style"],
        )
        pn.bind(partial(self._sample_picked, "content"), self.content_sample, watch=True)
        pn.bind(partial(self._sample_picked, "style"), self.style_sample, watch=True)
        limit, budget = state.limits.max_upload_bytes, state.upload_budget()
        self.content_upload, self.style_upload = (
            image_uploader(limit, f"upload-{role}", partial(self._uploaded, role), partial(self._refused, role), budget)
            for role in ("content", "style")
        )
        # what the drop areas did in the browser: a refused file replaces any old error, a taken one clears it
        self.watch = UploadWatch(targets=["upload-content", "upload-style"], width=0, height=0, margin=0)
        pn.bind(self._refused_in_browser, self.watch.param.refused, watch=True)
        self.watch.param.watch(lambda e: setattr(state, "error", ""), "taken")
        self.camera = CameraButton(target="upload-content", css_classes=["nst-camera"], margin=(4, 10))
        # the phone's copy, on its first screen beside the examples (the Images card is ~1,800 px further down)
        self.phone_camera = CameraButton(target="upload-content", css_classes=["nst-phone-camera"], margin=(0, 6))
        self.content_thumb = pn.pane.PNG(None, width=135, height=110, fixed_aspect=True, alt_text="The content image")
        self.style_thumb = pn.pane.PNG(None, width=135, height=110, fixed_aspect=True, alt_text="The style image")
        state.param.watch(lambda *_: self.refresh_thumbs(), ["images_version"])
        self.examples = self._examples("nst-example", "nst-examples")
        # On a phone the sidebar comes after the result, screens down: the examples are repeated above the picture.
        self.phone_examples = self._examples("nst-phone-example", "nst-phone-examples-row")
        self.refresh_thumbs()

    def _examples(self, item_class: str, css_class: str) -> PictureButtons:
        buttons = PictureButtons(
            items=[
                {"key": i, "src": data_url(example_thumb(c, st)), "caption": example_caption(c, st)}
                for i, (c, st) in enumerate(EXAMPLES, start=1)
            ],
            item_class=item_class,
            verb="Run the example",
            compact=True,
            sizing_mode="stretch_width",
            css_classes=[css_class],
        )
        buttons.param.watch(lambda e: self._on_example(*EXAMPLES[buttons.selected - 1]), "presses")
        return buttons

    def phone_examples_row(self) -> pn.Column:
        """The examples above the picture, with the camera beside their caption: on narrow screens only."""
        return pn.Column(
            pn.Row(caption("<b>Try an example</b> (Quick)"), pn.HSpacer(), self.phone_camera, align="center"),
            self.phone_examples,
            css_classes=["nst-phone-examples"],
            stylesheets=[PHONE_ONLY_CSS],
            sizing_mode="stretch_width",
        )

    def show_samples(self, content: str, style: str) -> None:
        """Point the menus at these samples without picking them again (an example already did)."""
        self._picking = True
        try:
            self.content_sample.value, self.style_sample.value = content, style
        finally:
            self._picking = False

    def _sample_picked(self, role: str, name: str) -> None:
        if not self._picking and name != UPLOADED:
            self.state.use_sample(role, name)

    def _uploaded(self, role: str, filename: str, data: bytes) -> None:
        """A complete upload arrived (on the loop): decode it on a worker, then use it if it is still the newest."""
        self._pending[role] += 1
        ticket = self._pending[role]
        state = self.state

        def use(prepared) -> None:
            if self._pending[role] == ticket:
                state.apply_image(role, prepared)
                self._show_uploaded(role)

        decoder(state).submit(
            role,
            lambda: state.prepare_upload(data, filename),
            use,
            partial(state.upload_failed, filename, "The upload"),
        )

    def _refused_in_browser(self, refused: dict) -> None:
        role = "content" if refused.get("target") == "upload-content" else "style"
        name = str(refused.get("name", ""))
        if int(refused.get("size") or 0) > self.state.limits.max_upload_bytes:
            self.state.upload_too_large(name, f"The {role} upload")
        else:
            self.state.error = nstcore.not_an_image(file_label(name, f"The {role} upload"))

    def _refused(self, role: str, filename: str, size: int) -> None:
        self.state.upload_too_large(filename, f"The {role} upload")

    def _show_uploaded(self, role: str) -> None:
        select = self.content_sample if role == "content" else self.style_sample
        self._picking = True
        try:
            select.value = UPLOADED
        finally:
            self._picking = False

    def refresh_thumbs(self) -> None:
        state = self.state
        if state.content_image is not None:
            self.content_thumb.object = state.content_image.thumb_png
        if state.style_image is not None:
            self.style_thumb.object = state.style_image.thumb_png

    def card(self, width: int) -> pn.Card:
        return pn.Card(
            caption("<b>Try an example</b>: one click loads the pair and runs it (Quick)"),
            self.examples,
            pn.Row(pn.Column(self.content_sample, self.content_thumb), pn.Column(self.style_sample, self.style_thumb)),
            self.watch,
            caption("Your own content image"),
            self.camera,
            self.content_upload,
            caption("Your own style image"),
            self.style_upload,
            title="Images",
            collapsible=False,
            width=width,
        )
