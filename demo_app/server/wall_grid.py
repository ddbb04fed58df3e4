"""The projector wall's picture grid: a browser-side component that fills the screen with the shared results.

The pictures are laid out in rows, each cell the shape of its own picture (never cropped, never letterboxed: a mix
of portrait and landscape results in same-shaped tiles left 60 % of the screen black), with as many rows as make the
pictures largest: four results on a 1920x1080 projector fill two rows instead of a row of 261-px thumbnails in a
corner. Under each picture a strip holds its style image and its name in large type (a room reads them from the
back); the style image no longer covers a corner of the picture. The newest entry glows for a few seconds. There
are no controls on it: the host removes entries from /host, not on the projected screen.

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
    """``items``: [{key, src, style, name, aspect}] newest first (name is plain text, aspect the picture's width /
    height); ``newest``: the key to highlight."""

    items = param.List(default=[], doc="[{key, src, style, name, aspect}] newest first; name is plain text.")
    newest = param.Integer(default=0, doc="The key of the entry shared last (highlighted for a few seconds).")
    join_url = param.String(default="", doc="Where participants join (plain text); none: no join panel.")
    join_qr = param.String(default="", doc="The join URL's QR code as a data: URI (made on the server).")

    _esm = """
    // Rows of pictures, each cell the shape of its picture (a justified layout): n pictures of aspects a[i]
    // (width / height), in order, in a box of w x h, every row with a caption strip under it. For each row count,
    // the rows split the pictures where their summed widths are most even, each row fills the width, and all shrink
    // together until they fit the height; the count that shows the most picture wins.
    function justify(a, w, h, gap) {
      const n = a.length, total = a.reduce((sum, x) => sum + x, 0);
      let best = null;
      for (let r = 1; r <= n; r++) {
        const cap = Math.max(32, Math.min(64, h / r / 7));
        const rows = [];
        let start = 0, before = 0;
        for (let k = 1; k <= r; k++) {
          let end = start + 1, sum = a[start];
          const target = (total * k) / r;
          const closer = (next) => Math.abs(before + sum + next - target) < Math.abs(before + sum - target);
          while (end < n - (r - k) && (k === r || closer(a[end]))) {
            sum += a[end];
            end += 1;
          }
          rows.push({start, end, sum});
          before += sum;
          start = end;
        }
        const heights = rows.map((row) => (w - gap * (row.end - row.start - 1)) / row.sum);
        const stacked = heights.reduce((sum, x) => sum + x, 0);
        const scale = Math.min(1, (h - r * cap - gap * (r - 1)) / stacked);
        if (scale <= 0) continue;
        const area = rows.reduce((sum, row, j) => sum + (heights[j] * scale) ** 2 * row.sum, 0);
        if (!best || area > best.area) best = {area, cap, rows, heights: heights.map((x) => Math.floor(x * scale))};
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
      const cell = (item, height, cap) => {
        const figure = document.createElement("figure");
        figure.className = "nst-wall-item nst-wall-tile" + (item.key === model.newest ? " nst-wall-newest" : "");
        const img = document.createElement("img");
        img.className = "nst-wall-picture";
        img.src = item.src; img.alt = item.name ? "Shared by " + item.name : "Shared result";
        img.style.width = figure.style.width = Math.floor(height * (item.aspect || 4 / 3)) + "px";  // a long
        img.style.height = height + "px";  // name is cut short, never widens the cell
        // under the picture, never over it: the style image (it covered a corner: the moon of a lake house) and
        // the name, in type sized to the strip
        const caption = document.createElement("figcaption");
        caption.style.height = cap + "px";
        caption.style.fontSize = Math.round(cap * 0.62) + "px";
        const style = document.createElement("img");
        style.className = "nst-wall-style"; style.src = item.style; style.alt = "";
        style.style.width = style.style.height = cap - 6 + "px";
        const name = document.createElement("span");
        name.textContent = item.name;  // text, never markup
        caption.append(style, name);
        figure.append(img, caption);
        return figure;
      };
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
          return;
        }
        const top = grid.getBoundingClientRect().top;
        const w = Math.max(grid.clientWidth, 320), h = Math.max(window.innerHeight - top - 8, 240);
        const {cap, rows, heights} = justify(items.map((item) => item.aspect || 4 / 3), w, h, 8);
        rows.forEach((row, j) => {
          const line = document.createElement("div");
          line.className = "nst-wall-row";
          for (const item of items.slice(row.start, row.end)) line.append(cell(item, heights[j], cap));
          grid.append(line);
        });
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
    .nst-wall-grid { display: flex; flex-direction: column; align-items: center; gap: 8px; flex: 1 1 auto;
      min-width: 0; }
    .nst-wall-row { display: flex; gap: 8px; justify-content: center; }
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
    .nst-wall-item { flex: none; margin: 0; border-radius: 6px; overflow: hidden; background: #000; }
    .nst-wall-picture { display: block; }
    .nst-wall-item figcaption { display: flex; align-items: center; gap: 10px; padding: 0 8px 0 3px; color: #fff;
      font-weight: 700; font-family: system-ui, sans-serif; line-height: 1.2; white-space: nowrap; overflow: hidden; }
    .nst-wall-item figcaption span { min-width: 0; overflow: hidden; text-overflow: ellipsis; }
    .nst-wall-style { flex: none; object-fit: cover; border: 2px solid #fff; border-radius: 3px; }
    .nst-wall-newest { animation: nst-glow 6s ease-out 1; }
    @keyframes nst-glow { from { box-shadow: 0 0 0 6px #f0a000; } to { box-shadow: 0 0 0 0 transparent; } }
    .nst-wall-empty { color: #bbb; font: 32px system-ui, sans-serif; text-align: center; margin: 16px 0 0; }
    """
    ]
