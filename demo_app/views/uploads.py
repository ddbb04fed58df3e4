"""Uploads on the page: Panel's chunked FileDropper with the server's size limit enforced chunk by chunk
(:class:`Uploader`), and the drop area for one image (:func:`image_uploader`)."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import panel as pn
import param

import nstcore

from ..jobs.gate import Refused, UploadBudget
from .reach import DROP_AREA_JS

_keys = itertools.count(1)


class Uploader(pn.widgets.FileDropper):
    """Panel's chunked FileDropper with the size limit enforced on the server as well as in the browser.

    A file travels in chunks of ``CHUNK_BYTES`` (never one websocket message the size of the file: the old
    FileInput's single message over the websocket cap dropped the connection and the session with its job). The
    browser refuses a file over the limit before sending it (FilePond says so in the widget); a client that skips
    that check is stopped here at the first chunk that would pass the limit, and ``on_refused(name, size)`` says
    so. ``on_file(name, data)`` gets each complete file once, then the widget forgets it.

    With a ``budget`` (the page's :class:`~demo_app.jobs.gate.UploadBudget`), every chunk is admitted by the gate
    against one budget for all of the page's (and the visitor's) unfinished files: forty names each sending half a
    file once held +779 MB until the page closed. A refused file's chunks are dropped and the page is told; a file
    that sends nothing for a minute is dropped by the gate.
    """

    CHUNK_BYTES = 1024 * 1024

    def __init__(
        self,
        *,
        max_bytes: int,
        on_file: Callable[[str, bytes], None],
        on_refused: Callable[[str, int], None],
        budget: UploadBudget | None = None,
        **params,
    ) -> None:
        # FilePond reads "KB" as 1000 bytes (the limits count MB as 10**6 too, so it shows the server's figure);
        # round up so a file just under the server's limit is never refused.
        params.setdefault("max_file_size", f"{-(-max_bytes // 1000)}KB")
        super().__init__(chunk_size=self.CHUNK_BYTES, multiple=False, **params)
        self._max_bytes, self._on_file, self._on_refused = max_bytes, on_file, on_refused
        self._received: dict[str, int] = {}
        self._refused: set[str] = set()
        self._budget = budget
        self._key = f"upload-{next(_keys)}:"  # this widget's files in the gate (two widgets may get one name)

    def _process_event(self, event) -> None:
        if event.event_name != "upload_event":
            super()._process_event(event)
            return
        data = event.data
        name, chunk, total = str(data.get("name", "")), int(data.get("chunk", 0)), int(data.get("total_chunks", 0))
        if chunk == 1:
            self._received[name] = 0
            self._refused.discard(name)
        if name in self._refused:
            return
        size = self._received.get(name, 0) + len(data.get("data") or b"")
        self._received[name] = size
        if size > self._max_bytes or (total - 1) * self.chunk_size > self._max_bytes:
            self._forget(name, refused=True)
            self._on_refused(name, max(size, (total - 1) * self.chunk_size))
            return
        if self._budget is not None:
            try:
                self._budget.admit(self._key + name, size, lambda: self._forget(name, refused=True))
            except Refused as exc:
                self._forget(name, refused=True)
                self._budget.told(str(exc))
                return
        super()._process_event(event)
        if chunk == total and name in self.value:
            content = self.value.pop(name)
            self.mime_type.pop(name, None)
            self._forget(name)
            self._on_file(name, content.encode() if isinstance(content, str) else content)

    def _forget(self, name: str, refused: bool = False) -> None:
        """Drop what was buffered of ``name`` (and, ``refused``, ignore its remaining chunks)."""
        self._file_buffer.pop(name, None)
        self._received.pop(name, None)
        if refused:
            self._refused.add(name)
        if self._budget is not None:
            self._budget.release(self._key + name)


def image_uploader(
    max_bytes: int,
    css_class: str,
    on_file: Callable[[str, bytes], None],
    on_refused: Callable[[str, int], None],
    budget: UploadBudget | None = None,
) -> Uploader:
    """The page's drop area for one image (the formats nstcore reads), as wide as a sidebar card."""
    return Uploader(
        max_bytes=max_bytes,
        accepted_filetypes=list(nstcore.IMAGE_SUFFIXES),
        width=290,
        height=76,
        layout="compact",
        css_classes=[css_class],
        on_file=on_file,
        on_refused=on_refused,
        budget=budget,
    )


class UploadWatch(pn.custom.JSComponent):
    """Tells the server what the drop areas with CSS classes ``targets`` did in the browser: a file FilePond
    refused before sending it (too large, wrong type: ``refused`` = {target, name, size, n}) and every file it took
    (``taken`` counts them). Without it a refused file left the previous error on the page beside the drop area's
    own message, and a new upload did not clear an old error until it had arrived (issue 24)."""

    targets = param.List(default=[], item_type=str)
    refused = param.Dict(default={})
    taken = param.Integer(default=0)

    _esm = (
        DROP_AREA_JS
        + """
    export function render({ model, el }) {
      let count = 0;
      const hooked = new Set();
      const hook = () => {
        for (const target of model.targets) {
          if (hooked.has(target)) continue;
          const {root} = dropArea(target);
          const pond = root && window.FilePond ? window.FilePond.find(root) : null;
          if (!pond) continue;
          hooked.add(target);
          pond.on("addfile", (error, file) => {
            if (error) {
              count += 1;
              model.refused = {target, name: String(file.filename || ""), size: file.fileSize || 0, n: count};
            } else {
              model.taken = model.taken + 1;
            }
          });
        }
        if (hooked.size < model.targets.length) setTimeout(hook, 500);
      };
      hook();
      el.style.display = "none";
    }
    """
    )
