"""The projector wall's picture grid: a browser-side component that fills the screen with the shared results.

The grid chooses its columns and rows from the number of entries and the screen's shape, so the pictures are as
large as they can be (each letterboxed inside its tile, never cropped): four results on a 1920x1080 projector fill
a 2x2 grid instead of a row of 261-px thumbnails in a corner. Names are in large type (a room reads them from the
back), the style image sits small in a corner, and the newest entry glows for a few seconds. There are no controls
on it: the host removes entries from /host, not on the projected screen.

How to join (the participants' URL and its QR code) is part of it: on an empty wall, the room's join screen, the code
is more than half the screen's height (at least 400 px); beside results it is a 264-px column on the right, so the
pictures keep the screen's full height. A QR code's side should be a tenth of the distance it is read from, and the
back row of a room with a 3-m screen sits ~5 m away: at 150 px in a top bar (23 cm there) a 1080p phone camera read
it at 3 m and not at 5 m.
"""

from __future__ import annotations

import panel as pn
import param


class WallGrid(pn.custom.JSComponent):
    """``items``: [{key, src, style, name}] newest first (name is plain text); ``newest``: the key to highlight."""

    items = param.List(default=[], doc="[{key, src, style, name}] newest first; name is plain text.")
    newest = param.Integer(default=0, doc="The key of the entry shared last (highlighted for a few seconds).")
    join_url = param.String(default="", doc="Where participants join (plain text); none: no join panel.")
    join_qr = param.String(default="", doc="The join URL's QR code as a data: URI (made on the server).")

    _esm = """
    // Columns for n tiles of aspect a (width / height) in a box of w x h: the count that makes tiles largest.
    function layout(n, w, h, a) {
      let best = {cols: 1, rows: Math.max(n, 1), side: 0};
      for (let cols = 1; cols <= Math.max(n, 1); cols++) {
        const rows = Math.ceil(Math.max(n, 1) / cols);
        const tileW = w / cols, tileH = h / rows;
        const side = Math.min(tileW, tileH * a);  // the picture's width in its tile
        if (side > best.side) best = {cols, rows, side};
      }
      return best;
    }
    export function render({ model, el }) {
      document.body.style.background = "#111";  // the projector's page: dark, edge to edge
      document.body.style.margin = "0";
      const root = document.createElement("div");
      root.className = "nst-wall-root";
      const grid = document.createElement("div");
      grid.className = "nst-wall-grid";
      const join = document.createElement("aside");
      join.className = "nst-wall-join";
      const label = document.createElement("div");
      label.className = "nst-wall-join-label";
      label.textContent = "Join the workshop and share your picture:";
      const url = document.createElement("div");
      url.className = "nst-wall-url";
      const qr = document.createElement("img");
      qr.className = "nst-wall-qr";
      join.append(label, url, qr);
      root.append(grid, join);
      const draw = () => {
        grid.replaceChildren();
        const items = model.items;
        url.textContent = model.join_url;  // text, never markup
        qr.src = model.join_qr; qr.alt = "QR code for " + model.join_url;
        join.hidden = !model.join_url;
        root.classList.toggle("nst-wall-joining", !items.length);  // an empty wall is the join screen
        if (!items.length) {
          const empty = document.createElement("p");
          empty.className = "nst-wall-empty";
          empty.textContent = "Nothing shared yet. Press “Share to wall” under a finished result.";
          grid.append(empty);
          grid.style.gridTemplateColumns = "1fr";
          return;
        }
        const top = grid.getBoundingClientRect().top;
        const w = Math.max(grid.clientWidth, 320), h = Math.max(window.innerHeight - top - 8, 240);
        const {cols, rows} = layout(items.length, w, h, 4 / 3);
        grid.style.gridTemplateColumns = `repeat(${cols}, 1fr)`;
        grid.style.gridTemplateRows = `repeat(${rows}, ${Math.floor((h - 8 * (rows - 1)) / rows)}px)`;
        grid.style.setProperty("--nst-name-size", `${Math.max(24, Math.min(44, h / rows / 9))}px`);
        for (const item of items) {
          const cell = document.createElement("figure");
          cell.className = "nst-wall-item nst-wall-tile" + (item.key === model.newest ? " nst-wall-newest" : "");
          const img = document.createElement("img");
          img.className = "nst-wall-picture";
          img.src = item.src; img.alt = item.name ? "Shared by " + item.name : "Shared result";
          const style = document.createElement("img");
          style.className = "nst-wall-style"; style.src = item.style; style.alt = "";
          cell.append(img, style);
          if (item.name) {
            const caption = document.createElement("figcaption");
            caption.textContent = item.name;  // text, never markup
            cell.append(caption);
          }
          grid.append(cell);
        }
      };
      model.on(["items", "newest", "join_url", "join_qr"], draw);
      window.addEventListener("resize", draw);
      el.append(root);
      requestAnimationFrame(draw);  // once laid out: the grid's place on the page is known
    }
    """

    _stylesheets = [
        """
    :host { display: block; width: 100%; }
    .nst-wall-root { display: flex; gap: 16px; align-items: flex-start; }
    .nst-wall-grid { display: grid; gap: 8px; flex: 1 1 auto; min-width: 0; }
    .nst-wall-join { flex: 0 0 280px; display: flex; flex-direction: column; gap: 12px; padding: 8px 8px 0 0;
      color: #fff; font-family: system-ui, sans-serif; }
    .nst-wall-join[hidden] { display: none; }
    .nst-wall-join-label { font-size: 24px; opacity: .85; }
    .nst-wall-url { font-size: 28px; font-weight: 700; word-break: break-all; }
    .nst-wall-qr { width: 264px; height: 264px; image-rendering: pixelated; border-radius: 4px; }
    .nst-wall-joining { flex-direction: column-reverse; align-items: center; }
    .nst-wall-joining .nst-wall-join { flex: none; align-items: center; text-align: center; padding: 16px 0 0; }
    .nst-wall-joining .nst-wall-join-label { font-size: 32px; }
    .nst-wall-joining .nst-wall-url { font-size: 56px; }
    .nst-wall-joining .nst-wall-qr { width: max(400px, 55vh); height: max(400px, 55vh); }
    .nst-wall-joining .nst-wall-grid { flex: none; width: 100%; }
    .nst-wall-item { position: relative; margin: 0; background: #000; border-radius: 6px; overflow: hidden;
      min-height: 0; min-width: 0; }
    .nst-wall-picture { width: 100%; height: 100%; object-fit: contain; display: block; }
    .nst-wall-style { position: absolute; right: 8px; top: 8px; width: 14%; max-width: 120px;
      border: 2px solid #fff; border-radius: 3px; }
    .nst-wall-item figcaption { position: absolute; left: 0; right: 0; bottom: 0; padding: 6px 14px;
      background: linear-gradient(transparent, rgba(0,0,0,.8)); color: #fff;
      font: 700 var(--nst-name-size, 28px)/1.25 system-ui, sans-serif; overflow: hidden; text-overflow: ellipsis;
      white-space: nowrap; }
    .nst-wall-newest { animation: nst-glow 6s ease-out 1; }
    @keyframes nst-glow { from { box-shadow: 0 0 0 6px #f0a000; } to { box-shadow: 0 0 0 0 transparent; } }
    .nst-wall-empty { color: #bbb; font: 32px system-ui, sans-serif; text-align: center; margin: 16px 0 0; }
    """
    ]
