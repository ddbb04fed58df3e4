"""Take a photo as the content image (issue 23): the most natural thing a workshop participant wants to style.

On a touch screen the button opens the device's camera through the content drop area's own file input, given
``capture="environment"`` for that one press (this works over plain HTTP). On a laptop, where the browser allows the
camera (HTTPS or localhost), it opens the webcam in a dialog and the snapshot is added to the content drop area.
Either way the photo travels as an upload of that drop area, so it meets the same checks (size limit chunk by chunk,
the page's upload budget, the decoder). Where neither works the button is not shown; one line says why.

The component finds the drop area by its CSS class through the page's shadow roots and talks to FilePond (the
library behind Panel's FileDropper) through its public ``FilePond.find(element).addFile(file)``.
"""

from __future__ import annotations

import panel as pn
import param

from .reach import DROP_AREA_JS

NO_CAMERA = "The webcam needs this page over HTTPS (or on localhost); upload a photo instead."


class CameraButton(pn.custom.JSComponent):
    """The "Take a photo" button for the drop area with CSS class ``target``. ``mode`` is what the browser
    offered: "phone" (the camera through the file input), "webcam" (a snapshot dialog) or "none" (set by the
    browser, for tests)."""

    target = param.String(default="upload-content", doc="CSS class of the drop area the photo goes to.")
    mode = param.String(default="", doc="'phone', 'webcam' or 'none', as the browser decided.")
    reason = param.String(default=NO_CAMERA, doc="The line shown where no camera can be offered.")

    _esm = (
        DROP_AREA_JS
        + """

    function phonePhoto(target) {
      const {input} = dropArea(target);
      if (!input) return;
      const accept = input.getAttribute("accept");
      input.setAttribute("capture", "environment");
      input.setAttribute("accept", "image/*");
      input.click();
      // only this press opens the camera: the drop area's own Browse still offers files
      setTimeout(() => { input.removeAttribute("capture"); if (accept) input.setAttribute("accept", accept); }, 1500);
    }

    const CAMERA_ICON = '<svg aria-hidden="true" width="18" height="18" viewBox="0 0 24 24" fill="none" ' +
      'stroke="currentColor" stroke-width="2" style="vertical-align:-3px;margin-right:6px">' +
      '<path d="M4 7h3l2-3h6l2 3h3a1 1 0 0 1 1 1v11a1 1 0 0 1-1 1H4a1 1 0 0 1-1-1V8a1 1 0 0 1 1-1z"/>' +
      '<circle cx="12" cy="13" r="4"/></svg>';

    function button(text, cls) {
      const b = document.createElement("button");
      b.type = "button";
      b.className = cls;
      b.textContent = text;
      return b;
    }

    async function webcamPhoto(el, target) {
      const dialog = document.createElement("dialog");
      dialog.className = "nst-camera-dialog";
      dialog.setAttribute("aria-label", "Camera");
      const video = document.createElement("video");
      video.autoplay = true; video.muted = true; video.playsInline = true;
      video.setAttribute("aria-label", "What the camera sees");
      const note = document.createElement("p");
      note.className = "nst-camera-note";
      const take = button("Take the photo", "nst-camera-take"), cancel = button("Cancel", "nst-camera-cancel");
      take.disabled = true;
      const row = document.createElement("div");
      row.className = "nst-camera-row";
      row.append(take, cancel);
      dialog.append(video, note, row);
      el.append(dialog);
      let stream = null;
      const close = () => {
        if (stream) stream.getTracks().forEach((t) => t.stop());
        dialog.close();
        dialog.remove();
      };
      cancel.addEventListener("click", close);
      dialog.addEventListener("cancel", close);
      dialog.showModal();
      try {
        stream = await navigator.mediaDevices.getUserMedia({video: {facingMode: "environment"}, audio: false});
      } catch (error) {
        const why = error.name || "refused";
        note.textContent = "The camera could not be opened (" + why + "); upload a photo instead.";
        return;
      }
      video.srcObject = stream;
      video.addEventListener("loadeddata", () => { take.disabled = false; take.focus(); }, {once: true});
      take.addEventListener("click", () => {
        const canvas = document.createElement("canvas");
        canvas.width = video.videoWidth; canvas.height = video.videoHeight;
        canvas.getContext("2d").drawImage(video, 0, 0);
        canvas.toBlob((blob) => {
          const {root} = dropArea(target);
          const pond = root && window.FilePond ? window.FilePond.find(root) : null;
          if (blob && pond) pond.addFile(new File([blob], "camera.jpg", {type: "image/jpeg"}));
          close();
        }, "image/jpeg", 0.92);
      });
    }

    export function render({ model, el }) {
      const touch = window.matchMedia("(pointer: coarse)").matches;
      const webcam = Boolean(window.isSecureContext && navigator.mediaDevices && navigator.mediaDevices.getUserMedia);
      const mode = touch ? "phone" : webcam ? "webcam" : "none";
      if (model.mode !== mode) model.mode = mode;
      if (mode === "none") {
        const line = document.createElement("p");
        line.className = "nst-camera-reason";
        line.textContent = model.reason;
        el.append(line);
        return;
      }
      const take = button("Take a photo", "nst-camera-button");
      // a camera drawn in SVG (an emoji needs a colour font the device may not have: a box in Debian's chromium)
      take.insertAdjacentHTML("afterbegin", CAMERA_ICON);
      take.addEventListener("click", () => mode === "phone" ? phonePhoto(model.target) : webcamPhoto(el, model.target));
      el.append(take);
    }
    """
    )

    _stylesheets = [
        """
    @media (pointer: coarse) { .nst-camera-button, .nst-camera-row button { min-height: 44px !important; } }
    .nst-camera-button { min-height: 36px; padding: 6px 14px; border-radius: 6px; border: 1px solid #888;
      background: var(--panel-surface-color, #f4f4f4); color: inherit; font: 14px system-ui, sans-serif;
      cursor: pointer; }
    .nst-camera-button:focus-visible, .nst-camera-dialog button:focus-visible { outline: 3px solid #f0a000;
      outline-offset: 2px; }
    .nst-camera-reason { font-size: 12px; margin: 2px 0; opacity: .8; }
    .nst-camera-dialog { max-width: min(92vw, 720px); padding: 12px; border-radius: 8px; }
    .nst-camera-dialog video { width: 100%; max-height: 70vh; background: #000; }
    .nst-camera-row { display: flex; gap: 8px; margin-top: 8px; }
    .nst-camera-row button { min-height: 36px; padding: 6px 14px; font: 14px system-ui, sans-serif; }
    .nst-camera-note { font-size: 13px; }
    """
    ]
