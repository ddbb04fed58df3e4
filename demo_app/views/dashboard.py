"""The page of one session: composition, Run/Stop/Reset, and the clock that hands the job's progress to the view.

The sidebar holds the inputs (:mod:`.inputs`) and the controls (:mod:`.controls`, with the More styles and Instant
styles cards); the main area the run bar, the status and the three views (:mod:`.single_run`, :mod:`.compare`,
:mod:`.history`). Every widget is created per session. Bokeh models change only from the session's own periodic
callback (:meth:`Dashboard.tick`) or from work handed back to its loop; the run's worker thread never touches them.
"""

from __future__ import annotations

import panel as pn
import param

from ..session.state import SessionState
from ..session.text import as_html, as_notification
from .compare import CompareView
from .controls import RUN_LENGTH_LABELS, ControlsView
from .history import HistoryView
from .inputs import UPLOADED, InputsView
from .instant import InstantView
from .reach import PageFixes, primary_button, with_focus_ring
from .single_run import PREVIEW_WIDTH, SingleRunView
from .styles import StylesView
from .widgets import Views, clicks, plain_text, set_text

__all__ = ["CSS", "FRAME_PERIOD_MS", "RUN_LENGTH_LABELS", "SIDEBAR_WIDTH", "UPLOADED", "Dashboard", "alert_html"]


def on_a_phone(width: int) -> str:
    """A run-bar button's width on a phone. There Run, Stop and Reset share one line and Quick/Full (their times and
    sizes) the next: at their laptop widths, Reset and Quick/Full each took a line, and the picture moved 40 px down."""
    return (
        f"@media (max-width: 760px) {{ :host {{ width: {width}px !important; min-width: {width}px !important; "
        "margin: 5px !important; } }"
    )


CARD_WIDTH = 320  # the sidebar's cards: fits a 360 px phone, side by side with the result on a laptop
SIDEBAR_WIDTH = CARD_WIDTH + 20
COMPARE_TAB = 1
FRAME_PERIOD_MS = 200  # 5 frames/s at most: smooth enough to watch, cheap for a server with many sessions

CSS = """
.nst-preview img { image-rendering: auto; border-radius: 4px; box-shadow: 0 1px 4px rgba(0,0,0,.25); }
.nst-status { font-family: ui-monospace, monospace; font-size: 13px; }
.nst-ratio { font-size: 12px; opacity: .85; }
.nst-alert { padding: 8px 12px; border-radius: 4px; border: 1px solid; font-size: 14px; white-space: pre-wrap;
             overflow-wrap: anywhere; }
.nst-alert-danger { color: #842029; background: #f8d7da; border-color: #f5c2c7; }
.nst-alert-info { color: #055160; background: #cff4fc; border-color: #b6effb; }
.nst-alert-warning { color: #664d03; background: #fff3cd; border-color: #ffe69c; }
.nst-banner .nst-alert { padding: 4px 10px; font-size: 13px; }
"""

# The run's notes ("Coarse to fine: 64 px -> 128 px -> 256 px, ...") and the status line keep the room they need at
# every moment: they appeared at Run and pushed Run and the picture down under the finger (48 px on a laptop, ~110 px
# on a phone, where the status also grows from "Ready." to two lines).
NOTE_CSS = """:host { min-height: 18px; font-size: 13px; line-height: 18px; }
@media (max-width: 760px) { :host { min-height: 36px; } }"""
STATUS_CSS = "@media (max-width: 760px) { :host { min-height: 40px; } }"

# What a participant needs to know of a server on random weights, in one line: the host's banner (why, and how to fix
# it) took 36 % of a phone's first screen; the host reads it in the terminal and on the host console.
RANDOM_WEIGHTS = "Test mode: this server runs on random network weights, so results will not look like paintings."


# Bokeh's red is too light for white text (axe: 3.9:1, under the 4.5:1 rule) once Stop is enabled, i.e. during every
# run: this one is 6.5:1, and darker still under the pointer.
STOP_CSS = """.bk-btn-danger { background-color: #b02a37; border-color: #b02a37; }
.bk-btn-danger:hover, .bk-btn-danger:focus { background-color: #8c2230; border-color: #8c2230; }"""


def alert_html(text: str, kind: str = "danger", role: str = "alert") -> str:
    """An alert box around ``text``, which is escaped: sentences repeat file names and config values."""
    return f'<div class="nst-alert nst-alert-{kind}" role="{role}">{as_html(text)}</div>' if text else ""


class Dashboard(pn.viewable.Viewer):
    """One session's page, bound to a :class:`SessionState`."""

    announced = param.Integer(default=0, doc="Host messages shown as notifications.")

    def __init__(self, state: SessionState, **params) -> None:
        super().__init__(**params)
        self.state = state
        self.inputs = InputsView(state, self._run_example)
        self.controls = ControlsView(state)
        self.compare = CompareView(state)
        self.history = HistoryView(state)
        self.single = SingleRunView(state, self.history.add)
        self.styles = StylesView(state)
        self.instant = InstantView(state)
        self._build_run_bar()
        self.tabs = Views(("Single run", self.single.panel()), ("Compare", self.compare), ("History", self.history))
        self.tabs.param.watch(lambda e: self._sync_buttons(), "active")
        state.param.watch(self._show_error, "error")
        state.param.watch(self._sync_buttons, "running")
        state.param.watch(self._run_started, "running")
        self._sync_buttons()

    def _build_run_bar(self) -> None:
        backend = self.state.backend
        self.banner = pn.pane.HTML(
            alert_html(RANDOM_WEIGHTS if backend.banner else "", "warning", "note"),
            visible=bool(backend.banner),
            css_classes=["nst-banner"],
            sizing_mode="stretch_width",
        )
        # HTML panes fed only through alert_html / plain_text (escaped): sentences repeat what visitors typed.
        self.error_box = pn.pane.HTML("", visible=False, css_classes=["nst-error"], sizing_mode="stretch_width")
        self.note_box = plain_text(
            "", css_classes=["nst-note"], sizing_mode="stretch_width", stylesheets=[NOTE_CSS], margin=(0, 10)
        )
        self.status = plain_text(
            self.state.status, css_classes=["nst-status"], stylesheets=[STATUS_CSS], margin=(2, 10, 0, 10)
        )
        self.progress = pn.indicators.Progress(  # thin: a phone's first screen holds the picture and its slider
            value=0,
            max=100,
            height=10,
            margin=(4, 10),
            sizing_mode="stretch_width",
            max_width=PREVIEW_WIDTH,
            bar_color="primary",
            css_classes=["nst-progress"],
        )
        self.run_button = primary_button("▶ Run", width=170, css_classes=["nst-run"])
        self.run_button.stylesheets = [*self.run_button.stylesheets, on_a_phone(120)]
        self.stop_button = pn.widgets.Button(
            label="■ Stop", color="danger", width=90, stylesheets=[STOP_CSS, on_a_phone(80)], css_classes=["nst-stop"]
        )
        self.reset_button = pn.widgets.Button(label="Reset", color="light", width=90, stylesheets=[on_a_phone(80)])
        self.run_button.on_click(clicks(self._run))
        self.stop_button.on_click(clicks(self.state.stop))
        self.reset_button.on_click(clicks(self.state.reset))

    # -- Run, examples ----------------------------------------------------------------------------------------------
    def _run(self) -> bool:
        """The one Run button starts what the open tab shows: a single run, or the comparison of its table."""
        return self.state.start_compare() if self.tabs.active == COMPARE_TAB else self.state.start()

    def _run_example(self, content: str, style: str) -> None:
        """An example: its two sample images, a Quick run, started at once on the Single run tab."""
        state = self.state
        if state.running:
            state.error = "A run is already going; press Stop first or wait for it to finish."
            return
        if not (state.use_sample("content", content) and state.use_sample("style", style)):
            return
        self.inputs.show_samples(content, style)
        state.param.update(**state.backend.run_lengths(state.limits.max_size)["quick"])
        self.tabs.active = 0
        state.start()

    def _show_error(self, event: param.parameterized.Event) -> None:
        message = event.new
        self.error_box.object = alert_html(message)
        self.error_box.visible = bool(message)
        if message and pn.state.notifications is not None:
            pn.state.notifications.error(as_notification(message), duration=8000)

    def _sync_buttons(self, *events) -> None:
        running = self.state.running
        self.run_button.disabled = running
        self.stop_button.disabled = not running
        self.controls.lock_settings(running)
        tabs = getattr(self, "tabs", None)
        comparing = tabs is not None and tabs.active == COMPARE_TAB
        self.run_button.label = "▶ Run comparison" if comparing else "▶ Run"

    def _run_view(self) -> CompareView | SingleRunView:
        return self.compare if self.state.mode == "compare" else self.single

    def _run_started(self, event: param.parameterized.Event) -> None:
        if event.new:
            set_text(self.note_box, "")
            self._run_view().started()
            self.progress.value = 0

    # -- the session's clock ----------------------------------------------------------------------------------------
    def tick(self) -> None:
        """Runs on the session's event loop every FRAME_PERIOD_MS: poll the job once and hand what it produced to
        the view of the running mode (frames are encoded on a worker thread and shown when ready)."""
        state = self.state
        while state.announcements:  # the host's broadcast: text, escaped
            text = state.announcements.pop(0)
            if pn.state.notifications is not None:
                pn.state.notifications.info(as_notification(text), duration=15000)
            self.announced += 1
        if not state.has_job:
            return
        handover = state.poll()
        view = self._run_view()
        view.apply(handover)
        set_text(self.status, state.status)
        if handover.notes:  # e.g. "8 variants run as 2 batches of up to 4 to fit in the device's memory"
            set_text(self.note_box, " ".join(handover.notes))
        if state.total_steps:
            self.progress.value = int(100 * state.step / state.total_steps)
        if handover.finished:
            view.finished()
        state.request_frame()

    # -- page ---------------------------------------------------------------------------------------------------------
    def sidebar(self) -> list[pn.viewable.Viewable]:
        """Inputs and controls: the template's sidebar (stacked under the result on a phone)."""
        style, advanced, settings, config = self.controls.cards(CARD_WIDTH)
        self.styles.card.width = self.instant.card.width = CARD_WIDTH
        cards: list[pn.viewable.Viewable] = [
            self.inputs.card(CARD_WIDTH),
            style,
            self.styles.card,
            self.instant.card,
            advanced,
            settings,
            config,
        ]
        with_focus_ring(*cards)
        return cards

    def main(self) -> list[pn.viewable.Viewable]:
        """Run, status and results: the template's main area."""
        buttons = pn.FlexBox(
            self.run_button,
            self.stop_button,
            self.reset_button,
            self.controls.run_length,
            pn.pane.HTML(
                f"You are <b>{self.state.nickname}</b>",
                styles={"font-size": "13px", "opacity": "0.85"},
                css_classes=["nst-nickname"],
            ),
            align_items="center",
            css_classes=["nst-run-bar"],
        )
        with_focus_ring(buttons, self.tabs.bar, self.tabs.views[0], self.compare, self.history)
        return [
            pn.Column(
                PageFixes(explain=self.controls.explanations(), width=0, height=0, margin=0),
                self.banner,
                self.error_box,
                self.inputs.phone_examples_row(),
                buttons,
                self.status,
                self.progress,
                self.note_box,
                self.tabs,
                sizing_mode="stretch_width",
            )
        ]

    def __panel__(self) -> pn.viewable.Viewable:
        """The page without a template (in-process tests, notebooks)."""
        return pn.Row(pn.Column(*self.sidebar(), width=SIDEBAR_WIDTH), *self.main(), sizing_mode="stretch_width")
