"""The projector wall's picture grid: a browser-side component that fills the screen with the shared results.

The grid chooses its columns and rows from the number of entries and the screen's shape, so the pictures are as
large as they can be (each letterboxed inside its tile, never cropped): four results on a 1920x1080 projector fill
a 2x2 grid instead of a row of 261-px thumbnails in a corner. Names are in large type (a room reads them from the
back), the style image sits small in a corner, and the newest entry glows for a few seconds. There are no controls
on it: the host removes entries from /host, not on the projected screen.
"""

from __future__ import annotations

import panel as pn
import param


class WallGrid(pn.custom.JSComponent):
    """``items``: [{key, src, style, name}] newest first (name is plain text); ``newest``: the key to highlight."""

    items = param.List(default=[], doc="[{key, src, style, name}] newest first; name is plain text.")
    newest = param.Integer(default=0, doc="The key of the entry shared last (highlighted for a few seconds).")

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
      const grid = document.createElement("div");
      grid.className = "nst-wall-grid";
      const draw = () => {
        grid.replaceChildren();
        const items = model.items;
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
      model.on(["items", "newest"], draw);
      window.addEventListener("resize", draw);
      el.append(grid);
      requestAnimationFrame(draw);  // once laid out: the grid's place on the page is known
    }
    """

    _stylesheets = [
        """
    :host { display: block; width: 100%; }
    .nst-wall-grid { display: grid; gap: 8px; width: 100%; }
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
    .nst-wall-empty { color: #bbb; font: 32px system-ui, sans-serif; text-align: center; margin-top: 20vh; }
    """
    ]
