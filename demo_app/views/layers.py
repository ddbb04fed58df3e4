"""The style and content layer rows of the Style card: a switch and a weight per conv layer of the model."""

from __future__ import annotations

from collections.abc import Callable

import panel as pn
import param

import nstcore


class LayerRows(pn.viewable.Viewer):
    """One row per conv layer, bound to a ``{layer: weight}`` parameter of ``state`` (a :class:`LayerWeights`
    linked both ways). The paper's layers are shown; the other conv layers appear with "show all conv layers". A
    layer switched off keeps its slider position and is sent as weight 0 (it stays available to a running job)."""

    def __init__(
        self, state: param.Parameterized, name: str, layer_names: Callable[[], list[str]], featured: tuple[str, ...]
    ) -> None:
        super().__init__()
        self._names = layer_names
        self.widget = LayerWeights(rows=self._rows(), featured=list(featured), weights=dict(getattr(state, name)))
        self.widget.link(state, weights=name, bidirectional=True)
        state.param.watch(lambda e: setattr(self.widget, "rows", self._rows()), "model")

    def _rows(self) -> list[dict[str, str]]:
        return [{"name": layer, "hint": nstcore.layer_hint(layer) or ""} for layer in self._names()]

    def __panel__(self) -> pn.viewable.Viewable:
        return self.widget


class LayerWeights(pn.custom.JSComponent):
    """Rows of a switch (a checkbox with ``role="switch"``, named by its layer) and a weight slider (a labelled
    range input) per layer, drawn in the browser and updated in place, never rebuilt, so a control keeps the focus
    while its value changes. Bokeh's Switch and slider had no accessible names (axe-core: serious), and 16 rows of
    Bokeh widgets per page cost a page load ~0.1 s of the event loop every visitor shares."""

    rows = param.List(default=[], doc="[{name, hint}] every layer of the model, in order.")
    featured = param.List(default=[], doc="Layers always shown (the paper's).")
    weights = param.Dict(default={}, doc="{layer: weight} of the layers switched on.")
    show_all = param.Boolean(default=False, doc="Show every conv layer, not only the featured and the used ones.")

    _esm = """
    export function render({ model, el }) {
      const box = document.createElement("div");
      box.className = "nst-layers";
      const list = document.createElement("div");
      const all = document.createElement("label");
      all.className = "nst-layers-all";
      const allBox = document.createElement("input");
      allBox.type = "checkbox";
      all.append(allBox, document.createTextNode(" show all conv layers"));
      allBox.addEventListener("change", () => { model.show_all = allBox.checked; });
      box.append(list, all);
      el.append(box);
      const rows = new Map();  // layer -> {row, on, range, value}
      const positions = {};  // a switched-off layer keeps its slider's position
      const send = () => {
        const weights = {};
        for (const [name, r] of rows) if (r.on.checked) weights[name] = parseFloat(r.range.value);
        model.weights = weights;
      };
      const build = () => {
        list.replaceChildren();
        rows.clear();
        for (const {name, hint} of model.rows) {
          const row = document.createElement("div");
          row.className = "nst-layer-row layer-row layer-" + name;
          const on = document.createElement("input");
          on.type = "checkbox";
          on.setAttribute("role", "switch");
          on.setAttribute("aria-label", name);
          on.className = "nst-layer-on";
          const text = document.createElement("label");
          const id = "nst-layer-" + name + "-" + Math.random().toString(36).slice(2, 8);
          text.htmlFor = id;
          const title = document.createElement("span");
          title.textContent = hint ? name + " · " + hint + ": " : name + ": ";
          const value = document.createElement("b");
          text.append(title, value);
          const range = document.createElement("input");
          range.type = "range"; range.min = "0"; range.max = "2"; range.step = "0.05"; range.id = id;
          const column = document.createElement("div");
          column.className = "nst-layer-weight";
          column.append(text, range);
          row.append(on, column);
          list.append(row);
          on.addEventListener("change", send);
          range.addEventListener("input", () => { value.textContent = parseFloat(range.value).toString(); });
          range.addEventListener("change", send);
          rows.set(name, {row, on, range, value});
        }
        update();
      };
      const update = () => {
        const weights = model.weights;
        for (const [name, r] of rows) {
          const w = weights[name] || 0;
          r.on.checked = w > 0;
          r.range.disabled = !(w > 0);
          if (w > 0) positions[name] = Math.min(w, 2);
          const position = positions[name] !== undefined ? positions[name] : 1;
          if (parseFloat(r.range.value) !== position) r.range.value = String(position);
          r.value.textContent = parseFloat(r.range.value).toString();
          const shown = model.show_all || model.featured.includes(name) || w > 0;
          r.row.style.display = shown ? "" : "none";
        }
        allBox.checked = model.show_all;
      };
      model.on("rows", build);
      model.on(["weights", "show_all", "featured"], update);
      build();
    }
    """

    _stylesheets = [
        """
    .nst-layers { display: flex; flex-direction: column; gap: 6px; font: 13px system-ui, sans-serif; width: 100%; }
    .nst-layer-row { display: flex; align-items: center; gap: 10px; }
    .nst-layer-on { appearance: none; width: 36px; height: 20px; border-radius: 10px; background: #bbb;
      position: relative; cursor: pointer; flex: none; margin: 0 0 0 6px; }
    .nst-layer-on::after { content: ""; position: absolute; top: 2px; left: 2px; width: 16px; height: 16px;
      border-radius: 50%; background: #fff; transition: left .1s; }
    .nst-layer-on:checked { background: #0072b5; }
    .nst-layer-on:checked::after { left: 18px; }
    .nst-layer-weight { display: flex; flex-direction: column; flex: 1; min-width: 0; }
    .nst-layer-weight input { width: 100%; accent-color: #0072b5; margin: 2px 0; }
    .nst-layer-weight input:disabled { opacity: .45; }
    .nst-layers-all { display: flex; align-items: center; gap: 6px; margin-top: 4px; }
    *:focus-visible { outline: 3px solid #f0a000; outline-offset: 2px; }
    @media (pointer: coarse) {
      .nst-layer-on { width: 48px; height: 28px; border-radius: 14px; }
      .nst-layer-on::after { width: 24px; height: 24px; }
      .nst-layer-on:checked::after { left: 22px; }
      .nst-layer-weight input { min-height: 28px; }
      .nst-layers-all input { width: 24px; height: 24px; }
    }
    """
    ]
