"""CSS that every control of the page gets, wherever it sits: widgets render in shadow roots, which page-wide CSS
does not reach, so each widget carries it in its own ``stylesheets``."""

from __future__ import annotations

from typing import Any

import panel as pn
import param

# A visible keyboard focus for every control, and on touch screens targets a finger can hit: buttons, fields, menus
# and the upload's Browse at least 44 px tall (the usual touch minimum; Bokeh's are 31-34 px, Browse 16 px), slider
# handles a 28-px disc in a 44-px target (a transparent border), switches and check boxes 24 px and more (WCAG 2.5.8);
# a spinner's arrows (two 22-px halves of its field) leave touch screens, whose number keyboard does their work better.
# Each widget's shadow root gets it: page-wide CSS does not reach there.
FOCUS_CSS = """*:focus-visible { outline: 3px solid #f0a000 !important; outline-offset: 2px; }
@media (pointer: coarse) {
  :host { --handle-width: 28px; --handle-height: 28px; --switch-width: 48px; --switch-size: 26px; --bar-height: 26px; }
  .noUi-horizontal .noUi-handle { width: 44px !important; height: 44px !important; right: -22px !important;
    top: -17px !important; border-radius: 50%; border: 8px solid transparent !important; background-clip: padding-box;
    box-shadow: none; }
  .noUi-horizontal .noUi-handle::before, .noUi-horizontal .noUi-handle::after { display: none; }
  :host(.bk-Spinner) .bk-input { min-height: 50px; }
  input[type=checkbox] { width: 24px; height: 24px; }
  .bk-btn, .bk-input:not([type=checkbox]):not([type=range]), select { min-height: 44px !important; }
  .filepond--label-action { display: inline-block; min-height: 44px; line-height: 44px; padding: 0 6px; }
  button.bk-spin-btn { display: none !important; }
}"""
# A card's header (open/close) on touch screens: Panel's is 42 px.
CARD_CSS = "@media (pointer: coarse) { .card-header { min-height: 44px; } }"


# A primary button's blue, in the button's own shadow root from the moment it is drawn. Panel's blue (white text
# 5.1:1) comes with its button.css, which each new widget loads on its own: until it arrives (a console just unlocked,
# a slow link, a busy server) the button wore Bokeh's own blue, 3.4:1, under the 4.5:1 rule.
PRIMARY_CSS = """.bk-btn.bk-btn-primary { background-color: #0072b5; border-color: #0072b5; color: #ffffff; }
.bk-btn.bk-btn-primary:hover, .bk-btn.bk-btn-primary:focus { background-color: #005a8f; border-color: #005a8f; }"""


def primary_button(label: str, **params: Any) -> pn.widgets.Button:
    """A Button in the primary colour that keeps its contrast before Panel's stylesheet arrives."""
    return pn.widgets.Button(label=label, color="primary", stylesheets=[PRIMARY_CSS], **params)


# Shown on narrow screens only (a phone's copy of something the sidebar has, placed next to the picture).
PHONE_ONLY_CSS = ":host { display: none; } @media (max-width: 760px) { :host { display: block; } }"


def with_focus_ring(*objects: Any) -> None:
    """Give every widget inside ``objects`` (layouts or viewers) the visible focus ring (and touch-sized targets on
    touch screens), and every card's header its touch size."""
    for obj in objects:
        layout: Any = pn.panel(obj)
        for widget in layout.select(pn.widgets.Widget):
            if FOCUS_CSS not in widget.stylesheets:
                widget.stylesheets = [*widget.stylesheets, FOCUS_CSS]
        for card in layout.select(pn.Card):
            if CARD_CSS not in card.stylesheets:
                card.stylesheets = [*card.stylesheets, CARD_CSS]


# Finds a drop area (Panel's FileDropper, by its CSS class) through the page's shadow roots: {root, input} of its
# FilePond, or {} while it is not drawn. Shared by the components that talk to FilePond (camera, upload watch).
DROP_AREA_JS = """
function deepFind(root, selector) {
  const hit = root.querySelector(selector);
  if (hit) return hit;
  for (const el of root.querySelectorAll("*")) {
    if (el.shadowRoot) {
      const found = deepFind(el.shadowRoot, selector);
      if (found) return found;
    }
  }
  return null;
}

function dropArea(target) {
  const host = deepFind(document, "." + target);
  const scope = host && (host.shadowRoot || host);
  if (!scope) return {};
  return {root: scope.querySelector(".filepond--root"), input: scope.querySelector("input.filepond--browser")};
}
"""


class PageFixes(pn.custom.JSComponent):
    """What the page template and Bokeh's widgets leave out for keyboards and screen readers (issue 24): a "Skip to
    Run" link as the first Tab stop (the sidebar's thirty controls came first), a name for the template's theme
    switch, list semantics off the template's sidebar ``<ul>`` (it holds a div, not list items), and names for
    Bokeh's unnamed controls wherever they are drawn (a slider's handle gets its title, a spinner's arrows
    "Increase"/"Decrease" and leave the Tab order, their input keeps the arrow keys; a checkbox gets its text;
    a Tabulator table's scrolling holder leaves the Tab order, where a grid may not have it).
    ``explain`` gives technical controls a one-line explanation, shown on hover and on keyboard focus and read with
    them. The names are set again every two seconds, since cards draw their widgets when opened. Renders nothing.
    ``skip_to`` is the CSS class of the button the skip link focuses (empty: no skip link)."""

    skip_to = param.String(default="nst-run")
    stop = param.String(
        default="nst-stop",
        doc="CSS class of the Stop button: Escape presses it, and the focus moves between it and Run (``skip_to``) as "
        "one of them is disabled under it (after Run, the focus fell to the page's body).",
    )
    explain = param.Dict(
        default={},
        doc="CSS class of a control -> a one-line explanation of it (our own fixed text, never a visitor's): shown "
        "beside the control on hover and on keyboard focus, and read with it (aria-description).",
    )

    _esm = (
        DROP_AREA_JS
        + """
    export function render({ model, el }) {
      el.style.display = "none";
      if (model.skip_to && !document.querySelector(".nst-skip")) {
        const skip = document.createElement("a");
        skip.href = "#";
        skip.className = "nst-skip";
        skip.textContent = "Skip to Run";
        skip.style.cssText = "position:fixed;left:8px;top:-60px;z-index:10000;padding:8px 14px;background:#0072b5;" +
          "color:#fff;font:600 15px system-ui,sans-serif;border-radius:4px;outline:3px solid #f0a000;";
        skip.addEventListener("focus", () => { skip.style.top = "8px"; });
        skip.addEventListener("blur", () => { skip.style.top = "-60px"; });
        skip.addEventListener("click", (event) => {
          event.preventDefault();
          const host = deepFind(document, "." + model.skip_to);
          const button = host && (host.shadowRoot || host).querySelector("button");
          if (button) button.focus();
        });
        document.body.prepend(skip);
      }
      // One tooltip for every explained control, on hover and on focus (a title attribute shows on hover only).
      const tip = document.createElement("div");
      tip.className = "nst-tip";
      tip.setAttribute("role", "tooltip");
      tip.style.cssText = "position:fixed;z-index:10001;max-width:320px;padding:6px 10px;background:#1f2329;" +
        "color:#fff;font:13px/1.35 system-ui,sans-serif;border-radius:4px;pointer-events:none;display:none;";
      document.body.append(tip);
      // Listeners on each explained element itself: focus moving inside one widget's shadow tree (a card header to
      // its select) never reaches the document, whose focusin would miss it.
      const showTip = (target) => {
        tip.textContent = target.dataset.nstExplain;
        tip.style.display = "block";
        const box = target.getBoundingClientRect();
        const below = box.bottom + 6;
        tip.style.left = Math.max(4, Math.min(box.left, window.innerWidth - tip.offsetWidth - 4)) + "px";
        const fits = below + tip.offsetHeight < window.innerHeight;
        tip.style.top = (fits ? below : Math.max(4, box.top - tip.offsetHeight - 6)) + "px";
      };
      const hideTip = () => { tip.style.display = "none"; };
      // An explained control's host carries the class nst-explain-<name> (model.explain[class] is its text); its
      // inputs, handles and labels get the text, marked before the walk below goes into their shadow roots.
      const explainIn = (root) => {
        for (const host of root.querySelectorAll("[class*='nst-explain-']")) {
          const name = [...host.classList].find((cls) => cls.startsWith("nst-explain-"));
          const text = model.explain[name];
          if (!text) continue;
          const scope = host.shadowRoot || host;
          for (const el of scope.querySelectorAll("input, select, textarea, .noUi-handle, label, .bk-slider-title")) {
            if (el.dataset.nstExplain === text) continue;
            el.dataset.nstExplain = text;
            if (el.matches("input, select, textarea, .noUi-handle")) el.setAttribute("aria-description", text);
          }
        }
      };
      const nameBokeh = (root) => {  // one walk through every shadow root, every two seconds
        explainIn(root);
        for (const el of root.querySelectorAll("*")) {
          if (el.shadowRoot) nameBokeh(el.shadowRoot);
        }
        for (const el of root.querySelectorAll("[data-nst-explain]:not([data-nst-tip])")) {  // explained: a tooltip
          el.dataset.nstTip = "1";
          el.addEventListener("focus", () => showTip(el));
          el.addEventListener("blur", hideTip);
          el.addEventListener("pointerenter", () => showTip(el));
          el.addEventListener("pointerleave", hideTip);
        }
        for (const handle of root.querySelectorAll(".noUi-handle[role=slider]:not([aria-label])")) {
          const title = root.querySelector(".bk-slider-title");
          if (title) handle.setAttribute("aria-label", title.textContent.replace(/:.*$/, "").trim());
        }
        for (const arrow of root.querySelectorAll("button.bk-spin-btn:not([aria-label])")) {
          arrow.setAttribute("aria-label", arrow.classList.contains("bk-spin-btn-up") ? "Increase" : "Decrease");
          arrow.tabIndex = -1;
        }
        // Tabulator's scrolling holder sits between its grid and the rows with a tabindex and no role, which a grid
        // may not contain (axe-core: aria-required-children); its cells take focus themselves, so it leaves Tab.
        for (const holder of root.querySelectorAll(".tabulator-tableholder[tabindex]")) {
          holder.removeAttribute("tabindex");
        }
        // A button group (Quick/Full, the views, GIF/MP4) showed which button is on by its colour alone: each says
        // aria-pressed, kept in step with Bokeh's bk-active class as it changes.
        for (const group of root.querySelectorAll(".bk-btn-group:not([data-nst-pressed])")) {
          group.dataset.nstPressed = "1";
          const mark = () => {
            for (const b of group.querySelectorAll("button.bk-btn")) {
              b.setAttribute("aria-pressed", String(b.classList.contains("bk-active")));
            }
          };
          mark();
          new MutationObserver(mark).observe(group, {subtree: true, childList: true, attributeFilter: ["class"]});
        }
        for (const box of root.querySelectorAll("input[type=checkbox]:not([aria-label])")) {
          const holder = box.parentElement || box.getRootNode();  // Bokeh: the box and its text side by side
          const parts = [...holder.children].filter((child) => !["STYLE", "LINK"].includes(child.tagName));
          const text = parts.map((child) => child.textContent).join(" ").trim();
          if (text && !box.closest("label")) box.setAttribute("aria-label", text);
        }
      };
      const buttonOf = (cls) => {
        const host = cls && deepFind(document, "." + cls);
        return host ? (host.shadowRoot || host).querySelector("button") : null;
      };
      const focusLost = () => {  // on the page's body, or on a button just disabled under it
        let active = document.activeElement;
        while (active && active.shadowRoot && active.shadowRoot.activeElement) active = active.shadowRoot.activeElement;
        return !active || active === document.body || active.disabled === true;
      };
      // Run disables itself and enables Stop (and the other way round): the focus follows to the enabled one, and
      // stays with Stop until the run ends, then goes back to Run.
      const handOff = (to, back) => {
        const started = Date.now();
        const tick = () => {
          const target = buttonOf(to);
          if (target && !target.disabled) {
            if (focusLost()) target.focus();
            if (back && target.matches(":focus")) handOff(back, null);
            else if (back) setTimeout(tick, 250);
            return;
          }
          if (Date.now() - started < (back ? 5000 : 600000)) setTimeout(tick, back ? 100 : 250);
        };
        setTimeout(tick, 100);
      };
      document.addEventListener("click", (event) => {
        const path = event.composedPath();
        const run = buttonOf(model.skip_to), stop = buttonOf(model.stop);
        if (run && stop && path.includes(run)) handOff(model.stop, model.skip_to);
        else if (run && stop && path.includes(stop)) handOff(model.skip_to, null);
      }, true);
      document.addEventListener("keydown", (event) => {  // Escape stops a run, unless a dialog takes it
        if (event.key !== "Escape" || event.defaultPrevented || deepFind(document, "dialog[open]")) return;
        const stop = buttonOf(model.stop);
        if (stop && !stop.disabled) stop.click();
      });
      const fix = () => {
        nameBokeh(document);
        const stop = buttonOf(model.stop);
        if (stop && !stop.hasAttribute("aria-keyshortcuts")) stop.setAttribute("aria-keyshortcuts", "Escape");
        const theme = document.getElementById("theme-switch");
        if (theme && !theme.getAttribute("aria-label")) theme.setAttribute("aria-label", "Dark theme");
        for (const list of document.querySelectorAll("ul.nav")) {
          if ([...list.children].some((child) => child.tagName !== "LI")) list.setAttribute("role", "none");
        }
      };
      fix();
      setInterval(() => { if (!document.hidden) fix(); }, 2000);  // a tab in the background walks nothing
    }
    """
    )
