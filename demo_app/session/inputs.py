"""A session's images: the content image, the style images (the first one and any extra ones blended with it) and
the regions that confine each style, from samples or uploads; and the sentences an upload that cannot be used
gets. Part of :class:`~demo_app.session.state.SessionState` (one job per file: settings, inputs, launch, results).
"""

from __future__ import annotations

from typing import Any

import param
from PIL import Image

import nstcore

from ..jobs.gate import UploadBudget
from .core import SessionCore
from .imaging import PreparedImage, PreparedMask, prepare_image, prepare_mask
from .samples import sample_image, sample_names
from .text import MAX_NAME, capped, file_label


class InputsPart(SessionCore):
    """The images a run starts from (SessionState's attributes ``content``, ``style``, ``extra_styles``, ``masks``
    and their prepared forms are set in its ``__init__``)."""

    content_name = param.String(default="", doc="What the content image is called on the page (capped text).")
    style_name = param.String(default="", doc="What the style image is called on the page (capped text).")
    images_version = param.Integer(default=0, doc="Counts image changes (a same-named upload is a change too).")
    styles_version = param.Integer(default=0, doc="Counts changes to the extra style images and the masks.")
    mask_note = param.String(default="", doc="Why the masks were cleared, when they were (our text).")

    def use_sample(self, role: str, name: str) -> bool:
        try:
            prepared = sample_image(role, name, self.limits.upload_side)
        except (OSError, ValueError, nstcore.ImageError):
            self.error = f"Sample {capped(name, MAX_NAME)} is not available."
            return False
        self.apply_image(role, prepared)
        return True

    def prepare_upload(self, data: bytes, filename: str) -> PreparedImage:
        """Check and decode an upload (thread-safe, touches no state): raises ``nstcore.ImageError`` with one
        sentence naming the file. Slow for large files: the page calls it on a worker thread."""
        return prepare_image(data, file_label(filename, "the upload"), self.limits)

    def apply_image(self, role: str, prepared: PreparedImage) -> None:
        """Make a prepared image the content or style image (on the session's loop). A new upload always replaces
        the old one, even under the same file name: ``images_version`` changes every time."""
        if role == "content":
            self.content, self.content_image = prepared.image, prepared
            if self.masks:  # painted over the old picture: they mean nothing on this one
                self.masks = {}
                self.mask_note = "The regions were cleared: they belonged to the previous content image."
                self.styles_version += 1
        else:
            self.style, self.style_image = prepared.image, prepared
        self.param.update(**{f"{role}_name": prepared.name, "error": "", "images_version": self.images_version + 1})

    def set_image(self, role: str, data: bytes, filename: str) -> bool:
        """Use uploaded bytes as the content or style image, all at once (tests, scripts). On any problem: keep the
        previous image, set ``error`` to one sentence naming the file and the reason, return False."""
        try:
            prepared = self.prepare_upload(data, filename)
        except nstcore.ImageError as exc:
            self.error = str(exc)
            return False
        self.apply_image(role, prepared)
        return True

    # -- several styles and their regions ---------------------------------------------------------------------------
    @property
    def style_count(self) -> int:
        return 1 + len(self.extra_styles)

    def add_style(self, prepared: PreparedImage) -> bool:
        """Add a style image to blend (on the session's loop); its weight starts equal to the others'."""
        if self.style_count >= self.limits.max_styles:
            self.error = f"This server blends at most {self.limits.max_styles} style images; remove one first."
            return False
        self.extra_styles = [*self.extra_styles, prepared]
        self._blend_for(self.style_count)
        self.param.update(error="", styles_version=self.styles_version + 1)
        return True

    def remove_style(self, index: int) -> None:
        """Remove style image ``index`` (1 = the first extra one; the first style is replaced, never removed)."""
        if not 1 <= index < self.style_count:
            return
        self.extra_styles = [p for i, p in enumerate(self.extra_styles, start=1) if i != index]
        self.masks = {(i if i < index else i - 1): m for i, m in self.masks.items() if i != index}
        blend = [w for i, w in enumerate(self.style_blend) if i != index]
        self._blend_for(self.style_count, blend)
        self.styles_version += 1

    def _blend_for(self, count: int, blend: list[float] | None = None) -> None:
        """One weight per style image (an extra one joins at the mean of the others); none for a single style."""
        current: list[float] = list(self.style_blend if blend is None else blend)
        if count <= 1:
            current = []
        else:
            fill = sum(current) / len(current) if current else 1.0
            current = (current + [fill] * count)[:count] if current else [1.0] * count
        self.param.update(style_blend=current)

    def set_blend(self, index: int, weight: float) -> None:
        """A style's blend slider moved (live during a run)."""
        blend: list[float] = list(self.style_blend) or [1.0] * self.style_count
        if 0 <= index < len(blend):
            blend[index] = float(weight)
            self.param.update(style_blend=blend)

    def prepare_mask(self, data: bytes, index: int, filename: str = "") -> PreparedMask:
        """Check and decode a mask for style ``index`` against the current content image (thread-safe; the page
        calls it on a worker). Raises ``nstcore.ImageError`` with one sentence."""
        if self.content is None:
            raise nstcore.ImageError("Choose a content image first: a mask is painted over it.")
        return prepare_mask(data, index, self.content.size, self.limits)

    def set_mask(self, index: int, mask: PreparedMask) -> None:
        if 0 <= index < self.style_count:
            self.masks = {**self.masks, index: mask}
            self.param.update(error="", mask_note="", styles_version=self.styles_version + 1)

    def replace_masks(self, masks: dict[int, PreparedMask], drop: set[int] | frozenset[int] = frozenset()) -> None:
        """Set several regions at once and remove those in ``drop`` (the page's drawing, re-rasterised)."""
        kept = {i: m for i, m in self.masks.items() if i not in drop}
        self.masks = {**kept, **{i: m for i, m in masks.items() if 0 <= i < self.style_count}}
        self.param.update(error="", mask_note="", styles_version=self.styles_version + 1)

    def clear_masks(self) -> None:
        self.masks = {}
        self.param.update(mask_note="", styles_version=self.styles_version + 1)

    def run_images(self) -> tuple[tuple[Image.Image, ...], tuple[Image.Image, ...] | None]:
        """What a run gets: every style image, and the masks (None without regions). A style without a painted
        region goes everywhere."""
        assert self.style is not None and self.content is not None
        styles = (self.style, *(p.image for p in self.extra_styles))
        masks = None
        if self.masks:
            everywhere = Image.new("L", self.content.size, 255)
            masks = tuple(self.masks[i].image if i in self.masks else everywhere for i in range(len(styles)))
        return styles, masks

    def run_styles(self) -> tuple[Any, list[Image.Image] | None]:
        """:meth:`run_images` as the engine's ``style`` argument (one image, or the list of several) and a list."""
        styles, masks = self.run_images()
        return (list(styles) if len(styles) > 1 else styles[0]), (list(masks) if masks is not None else None)

    def training_photos(self) -> list[PreparedImage]:
        """What "Train for any photo" trains on: the content image, then the project's sample photos (each once;
        decoded once per process)."""
        photos = [self.content_image] if self.content_image is not None else []
        for name in sample_names("content"):
            sample = sample_image("content", name, self.limits.upload_side)
            if all(sample.sha256 != p.sha256 for p in photos):
                photos.append(sample)
        return photos

    def upload_failed(self, filename: str, what: str, exc: BaseException) -> None:
        """An upload that could not be used (``what``: "The upload", "The mask" ...): the engine's sentence for a
        bad image; anything else gets a plain sentence, and its details go to the server log."""
        if isinstance(exc, nstcore.ImageError):
            self.error = str(exc)
        else:
            self.error = f"{file_label(filename, what)} could not be read; try another file."
            self.log_failure(what.lower(), exc)

    def upload_budget(self) -> UploadBudget:
        """What this page's upload widgets ask before buffering a chunk (one budget for all of the page's unfinished
        files, and the visitor's); a refusal's sentence goes to ``error``."""

        def told(sentence: str) -> None:
            self.error = sentence

        return UploadBudget(self.backend.gate, lambda: self.limits, self.session_id, self.visitor, told)

    def upload_too_large(self, filename: str, what: str) -> None:
        """The browser refused a file over the server's upload limit before sending it."""
        limit = self.limits.max_upload_mb
        self.error = f"{file_label(filename, what)} is over the upload limit of {limit:g} MB; use a smaller file."
