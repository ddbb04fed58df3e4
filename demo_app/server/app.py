"""The Panel application: one :class:`SessionState` + :class:`Dashboard` per browser session.

``python -m demo_app`` serves :func:`create_app` as a factory; ``panel serve demo_app/server/app.py`` works too
(then the backend is configured by the environment: NST_WEIGHTS, NST_DEVICE, NST_MAX_CONCURRENT, NST_BATCH_JOBS,
NST_MAX_QUEUE, NST_DASK_SCHEDULER, NST_COOKIE_SECRET and the NST_MAX_* limits).
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import weakref
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # `panel serve demo_app/server/app.py` runs this file as a script
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import panel as pn  # noqa: E402

from demo_app.jobs.backend import Backend  # noqa: E402
from demo_app.server import param_cache  # noqa: E402
from demo_app.server.clients import Network, client_of, over_https, parse_proxies  # noqa: E402
from demo_app.server.host_console import HostConsole  # noqa: E402
from demo_app.server.pages import off_loop_application  # noqa: E402
from demo_app.server.routes import COMPONENTS_ROUTE  # noqa: E402
from demo_app.server.status import liveness_route, status_app  # noqa: E402
from demo_app.server.visitors import (  # noqa: E402
    COOKIE,
    PAYLOAD_KEY,
    TRANSFORMS,
    VisitorCookies,
    cookie_secret,
    identify,
)
from demo_app.server.wall import WALL, WallPage  # noqa: E402
from demo_app.session.limits import Limits  # noqa: E402
from demo_app.session.state import SessionState  # noqa: E402
from demo_app.session.visitor import Visitor, address_group  # noqa: E402
from demo_app.views.dashboard import CSS, FRAME_PERIOD_MS, SIDEBAR_WIDTH, Dashboard, alert_html  # noqa: E402
from demo_app.views.loop import belongs_to, quiet_periodic  # noqa: E402
from nstcore import set_cpu_threads  # noqa: E402

param_cache.install()  # see param_cache: the page design read its CSS paths from disk on every widget change

TITLE = "Neural Style Transfer Workbench"
log = logging.getLogger("demo_app")

# The dashboards of the sessions alive in this process (for the status view and in-process tests).
LIVE_SESSIONS: weakref.WeakSet[Dashboard] = weakref.WeakSet()
# The /host and /wall pages alive (they count in the per-client page cap too).
LIVE_HOST_PAGES: weakref.WeakSet[HostConsole | WallPage] = weakref.WeakSet()

_backend: Backend | None = None
_limits: Limits | None = None
_host_password: str | None = None
_trusted_proxies: tuple[Network, ...] | None = None
_public_url: str | None = None
_cookies: VisitorCookies | None = None
_signed_in_users = False  # OAuth, or --basic-auth with a users file: the signed-in user is the visitor


def configure(
    backend: Backend,
    limits: Limits,
    host_password: str | None = None,
    trusted_proxies: tuple[Network, ...] = (),
    public_url: str | None = None,
    secret: str | None = None,
    signed_in_users: bool = False,
) -> None:
    """Set the process-wide backend, limits, host password, trusted proxies, the participants' URL, the visitor
    cookies' secret and whether people sign in as themselves (``python -m demo_app`` calls this before serving)."""
    global _backend, _limits, _host_password, _trusted_proxies, _public_url, _cookies, _signed_in_users
    _backend, _limits, _host_password, _trusted_proxies = backend, limits, host_password, trusted_proxies
    _public_url, _signed_in_users = public_url, signed_in_users
    _cookies = VisitorCookies(cookie_secret(secret))
    set_cpu_threads(limits.job_threads)


def visitor_cookies() -> VisitorCookies:
    """As configured, else (``panel serve``) from NST_COOKIE_SECRET or a secret made for this process."""
    global _cookies
    if _cookies is None:
        _cookies = VisitorCookies(cookie_secret())
    return _cookies


def trusted_proxies() -> tuple[Network, ...]:
    """As configured, else (``panel serve``) NST_TRUSTED_PROXIES (comma-separated); none by default."""
    if _trusted_proxies is None:
        return parse_proxies([os.environ.get("NST_TRUSTED_PROXIES", "")])
    return _trusted_proxies


def host_password() -> str | None:
    """The host console's password: as configured, else (``panel serve``) NST_HOST_PASSWORD or the file named by
    NST_HOST_PASSWORD_FILE; None locks /host and /wall."""
    if _host_password is not None:
        return _host_password or None
    if os.environ.get("NST_HOST_PASSWORD"):
        return os.environ["NST_HOST_PASSWORD"]
    path = os.environ.get("NST_HOST_PASSWORD_FILE")
    if path:
        try:
            return Path(path).read_text(encoding="utf-8").strip() or None
        except (OSError, UnicodeDecodeError):
            log.error("NST_HOST_PASSWORD_FILE cannot be read; the host console stays locked")
    return None


def _request() -> Any:
    """The HTTP request of the session being built (its headers, peer address, host); None outside a server."""
    context = pn.state.curdoc.session_context if pn.state.curdoc is not None else None
    return getattr(context, "request", None) if context is not None else None


def participants_url() -> str:
    """Where participants join (the wall shows it): ``--public-url`` / NST_PUBLIC_URL, else the address this
    request reached (behind a proxy that may be an inside name: then set the public URL)."""
    configured = _public_url or os.environ.get("NST_PUBLIC_URL")
    if configured:
        return configured
    request = _request()
    host = str(getattr(request, "host", "") or "")
    protocol = str(getattr(request, "protocol", "") or "http")
    return f"{protocol}://{host}/" if host else ""


def live_dashboards() -> list[Dashboard]:
    """The open pages, oldest first."""
    return sorted(LIVE_SESSIONS, key=lambda d: d.state.created)


def current_limits() -> Limits:
    return _defaults()[1]


def set_limits(limits: Limits) -> None:
    """The host changed the limits: new pages and every open page's next job use them."""
    global _limits
    _limits = limits
    for dashboard in list(LIVE_SESSIONS):
        dashboard.state.limits = limits
        dashboard.state.run.limits = limits


def _defaults() -> tuple[Backend, Limits]:
    """The configured backend and limits, or (``panel serve``) both from the environment."""
    global _backend, _limits
    if _limits is None:
        _limits = Limits.from_env()
        set_cpu_threads(_limits.job_threads)
    if _backend is None:
        concurrent = os.environ.get("NST_MAX_CONCURRENT")
        batch_jobs = os.environ.get("NST_BATCH_JOBS")
        _backend = Backend(
            weights=os.environ.get("NST_WEIGHTS", "imagenet"),
            device_name=os.environ.get("NST_DEVICE", "auto"),
            max_concurrent=int(concurrent) if concurrent else None,
            batch_jobs=int(batch_jobs) if batch_jobs else None,
            max_queue=_limits.max_queue,
            dask_address=os.environ.get("NST_DASK_SCHEDULER") or None,
            stall_seconds=_limits.job_stall_seconds,
            stuck_seconds=_limits.stuck_thread_seconds,
            generators_dir=os.environ.get("NST_GENERATORS") or None,
        )
        _backend.calibrate_in_background()
    return _backend, _limits


def client_address() -> str:
    """The visitor's address (see :mod:`.clients`: forwarded headers count only from a trusted proxy); "" outside
    a server."""
    request = _request()
    if request is None:
        return ""
    peer = str(getattr(request, "remote_ip", "") or "")
    return client_of(peer, getattr(request, "headers", None) or {}, trusted_proxies())


def _identify(request: Any) -> dict[str, str]:
    """A page's HTML request (on the loop, see ``pages.py``): the browser's visitor id, and its cookie."""
    peer = str(getattr(request, "remote_ip", "") or "")
    headers = getattr(request, "headers", None) or {}
    secure = over_https(str(getattr(request, "protocol", "") or ""), peer, headers, trusted_proxies())
    return identify(request, visitor_cookies(), secure)


def current_visitor() -> Visitor:
    """Who the page being built belongs to: the signed-in user (under OAuth or a users file), else the browser its
    visitor cookie names (a host page, which gets no cookie, is its address alone); and the address group its
    flood ceilings count by. Visitor() outside a server."""
    context = pn.state.curdoc.session_context if pn.state.curdoc is not None else None
    address = address_group(client_address())
    if context is None or getattr(context, "request", None) is None:
        return Visitor("", address)
    user = pn.state.user if _signed_in_users else None
    if user and user != "guest":
        return Visitor(f"user:{user}", address)
    try:
        browser = str((getattr(context, "token_payload", None) or {}).get(PAYLOAD_KEY) or "")
    except Exception:  # noqa: BLE001 - a context without a token (in-process tests) is a visitor without a cookie
        browser = ""
    return Visitor(f"browser:{browser}" if browser else "", address)


def _extension() -> None:
    """Load Panel's extensions once per process (pages are built on several threads)."""
    global _extension_loaded
    with _extension_lock:
        if not _extension_loaded:
            pn.extension("tabulator", "filedropper", notifications=True, raw_css=[CSS])
            _extension_loaded = True


_extension_lock = threading.Lock()
_extension_loaded = False


def create_app() -> pn.viewable.Viewable | pn.template.BaseTemplate:
    """Build one session's page (called once per browser session, on a page-builder thread when served)."""
    _extension()
    backend, limits = _defaults()
    visitor = current_visitor()
    refused = _over_page_cap(visitor, limits)
    if refused is not None:
        return refused
    state = SessionState(backend, limits, visitor=visitor)
    # its slow work (decoding, encoding, rendering) takes turns with other visitors' (views/fair_pool.py)
    belongs_to(pn.state.curdoc, visitor.key or f"page-{id(state)}")
    state.start_on_quick()
    dashboard = Dashboard(state)
    LIVE_SESSIONS.add(dashboard)
    callback = quiet_periodic(dashboard.tick, FRAME_PERIOD_MS)

    def _destroyed(session_context) -> None:
        callback.stop()
        state.close()
        LIVE_SESSIONS.discard(dashboard)

    pn.state.on_session_destroyed(_destroyed)
    about = pn.pane.Markdown(
        f"Gatys, Ecker & Bethge, *A Neural Algorithm of Artistic Style* — "
        f"{backend.device_label}, {backend.weights_label('vgg19')} weights",
        margin=(0, 10),
        css_classes=["nst-about"],
        styles={"font-size": "12px", "opacity": "0.8"},
        sizing_mode="stretch_width",
    )
    page = pn.template.FastListTemplate(
        title=TITLE,
        sidebar=dashboard.sidebar(),
        main=[*dashboard.main(), about],
        sidebar_width=SIDEBAR_WIDTH,
        theme_toggle=True,
        busy_indicator=None,  # one process-wide flag, spun by every page's activity: see quiet_periodic
        # Without it a phone lays the page out ~1000 px wide and shrinks it to a third: 5 px text.
        meta_viewport="width=device-width, initial-scale=1",
        accent="#0072b5",
        header_background="#0072b5",
    )
    page.config.raw_css.append(RESPONSIVE_CSS)
    page.dashboard = dashboard  # type: ignore[attr-defined]  # handle for in-process tests
    return page


# FastListTemplate puts the sidebar beside the main area at any width. Below 760 px the two stack, the result first
# (Run, status, preview), then the controls, and the page scrolls as one column: nothing wider than the screen.
RESPONSIVE_CSS = """
@media (max-width: 760px) {
  #content { flex-direction: column; overflow-y: auto; overflow-x: hidden; }
  #main { order: 1; height: auto; overflow: visible; padding: 0 6px; flex-grow: 0; }
  #sidebar { order: 2; min-width: 100% !important; max-width: 100% !important; height: auto; overflow: visible;
             border-right: 0; padding: 10px 4px; box-sizing: border-box; }
  #sidebar.hidden { display: none; }
  #header { padding: 10px 4px; box-sizing: border-box; width: 100vw; overflow: hidden; }
  #header .title { font-size: 1.1em; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
  .pn-busy-container { display: none; }
  .card-margin { margin: 0.5em 0; }
}
@media (pointer: coarse) { #header a.title { display: inline-flex; align-items: center; min-height: 44px; } }
"""


def applications() -> dict[str, object]:
    """What the server serves: the dashboard (each page built on a worker thread, see ``pages.py``), /status, the
    host's /host and /wall."""
    # Extensions before the first page: loaded during the first page's build, the page template had already chosen
    # its resources, and that first page came up without FilePond and with its layout scrambled.
    _extension()

    return {
        "/": off_loop_application(create_app, TITLE, _identify),
        "/status": create_status,
        "/host": create_host,
        "/wall": create_wall,
    }


def serve_options() -> dict[str, object]:
    """pn.serve options every server of this app uses (``python -m demo_app`` and the browser tests)."""
    backend, _ = _defaults()
    return {
        "liveness": False,
        "extra_patterns": [liveness_route(backend), COMPONENTS_ROUTE],
        # The visitor cookie: set on a page's response; the signed value stays out of the token the page's script
        # can read (the session gets the checked id instead). See visitors.py.
        "transforms": TRANSFORMS,
        "exclude_cookies": [COOKIE],
        **SESSION_CLEANUP,
    }


# A closed tab's session is destroyed (and its job cancelled) within about 2.5 s instead of Bokeh's ~30 s default. The
# lifetime also bounds the time between a page's HTML and its websocket: a session unused that long is discarded and
# built again when the browser connects (pages.py makes sure such a page still loads this server's CSS). At 1 s, a
# page load while a browser test ran on the same 2 cores often took longer, so its page was built twice.
SESSION_CLEANUP = {"check_unused_sessions_milliseconds": 500, "unused_session_lifetime_milliseconds": 2000}


def _over_page_cap(visitor: Visitor, limits: Limits) -> pn.viewable.Viewable | None:
    """The refusal page when ``visitor`` already has ``max_sessions_per_client`` pages open, or their address
    ``max_sessions_per_address`` (dashboards, /host and /wall pages together), else None."""
    dashboards = [d.state.visitor for d in list(LIVE_SESSIONS)]
    hosts = [Visitor("", p.client) for p in list(LIVE_HOST_PAGES)]
    if sum(visitor.same_person(v) for v in dashboards) >= limits.max_sessions_per_client:
        sentence = (
            f"This browser already has {limits.max_sessions_per_client} pages of the workbench open (the most one "
            "person may have); close some tabs and reload."
        )
    elif sum(visitor.same_address(v) for v in dashboards + hosts) >= limits.max_sessions_per_address:
        sentence = (
            f"{limits.max_sessions_per_address} pages of the workbench are already open from your network (the most "
            "one address may have); close some tabs and reload, or ask the host."
        )
    else:
        return None
    log.warning("refused a page (%s)", sentence)
    return pn.Column(pn.pane.HTML(alert_html(sentence)), css_classes=["nst-refused"])


def _host_page(page: HostConsole | WallPage) -> HostConsole | WallPage:
    LIVE_HOST_PAGES.add(page)
    pn.state.on_session_destroyed(lambda context: LIVE_HOST_PAGES.discard(page))
    return page


def create_host() -> pn.viewable.Viewable | pn.viewable.Viewer:
    """The host's console (its own password; locked without one)."""
    _extension()
    backend, limits = _defaults()
    client = address_group(client_address())
    refused = _over_page_cap(Visitor("", client), limits)
    if refused is not None:
        return refused
    return _host_page(HostConsole(backend, host_password(), live_dashboards, current_limits, set_limits, client))


def create_wall() -> pn.viewable.Viewable | pn.viewable.Viewer:
    """The projector wall of shared results (behind the host password; locked without one)."""
    _extension()
    _, limits = _defaults()
    client = address_group(client_address())
    refused = _over_page_cap(Visitor("", client), limits)
    if refused is not None:
        return refused
    return _host_page(WallPage(WALL, host_password(), client, participants_url()))


def create_status() -> pn.viewable.Viewable:
    """The host's status page (sessions, queue, jobs, memory)."""
    backend, _ = _defaults()
    return status_app(backend, lambda: len(LIVE_SESSIONS))


if __name__.startswith("bokeh"):
    create_app().servable(title=TITLE)
