"""``python -m demo_app``: serve the dashboard (Panel on Bokeh server).

python -m demo_app                       # http://localhost:5006, pretrained VGG19, best device
python -m demo_app --weights random --device cpu --port 5007 --no-show
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import logging
import os
import secrets
import sys
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path

import nstcore

from .jobs.backend import Backend
from .server.flags import hosting_arguments
from .server.shutdown import stop_gracefully_on_signals
from .session.limits import Limits

log = logging.getLogger("demo_app")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m demo_app", description="Serve the style-transfer dashboard.")
    parser.add_argument("--port", type=int, default=5006)
    parser.add_argument(
        "--address",
        default="localhost",
        help="Interface to bind (default: localhost only; 0.0.0.0 to serve the network).",
    )
    parser.add_argument("--weights", default="imagenet", help="imagenet, random, or a path to a .pth state dict.")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps.")
    parser.add_argument("--show", dest="show", action="store_true", default=True, help="Open a browser tab.")
    parser.add_argument("--no-show", dest="show", action="store_false", help="Do not open a browser tab.")
    limits = parser.add_argument_group("limits (each also read from its NST_* environment variable)")
    for f in fields(Limits):
        flag = "--" + f.name.replace("_", "-")
        limits.add_argument(
            flag,
            type=float if f.type in (float, "float") else int,
            default=None,
            help=f"(env NST_{f.name.upper()}, default {f.default:g})",
        )
    hosting_arguments(parser)
    parser.add_argument("--debug", action="store_true", help="Verbose logs with tracebacks.")
    return parser


def basic_auth(args: argparse.Namespace) -> str | None:
    """The basic-auth password or user file: --basic-auth, else NST_BASIC_AUTH, else the contents of the file named
    by NST_BASIC_AUTH_FILE (e.g. a Docker secret). Raises ConfigError when that file cannot be read."""
    return secret_from(args.basic_auth, "NST_BASIC_AUTH", "password")


def secret_from(flag: str | None, env: str, what: str) -> str | None:
    """A secret from its flag, else the ``env`` variable, else the contents of the file named by ``env``_FILE (e.g.
    a Docker secret). Raises ConfigError when that file cannot be read or is empty."""
    if flag:
        return flag
    if os.environ.get(env):
        return os.environ[env]
    path = os.environ.get(f"{env}_FILE")
    if not path:
        return None
    try:
        secret = Path(path).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        raise nstcore.ConfigError(
            f"{env}_FILE names a file that cannot be read; check the path and its permissions."
        ) from None
    if not secret:
        raise nstcore.ConfigError(f"{env}_FILE names an empty file; put the {what} in it.")
    return secret


def host_password(args: argparse.Namespace, participants: str | None) -> str | None:
    """The host console's password: --host-password, else NST_HOST_PASSWORD, else NST_HOST_PASSWORD_FILE's
    contents. Raises ConfigError for an unreadable or empty file, or when it equals the participants' password."""
    secret = secret_from(args.host_password, "NST_HOST_PASSWORD", "host password")
    if secret is not None and participants is not None and secret == participants:
        raise nstcore.ConfigError(
            "The host password must differ from the participants' password; otherwise every participant can open "
            "the host console."
        )
    return secret


def proxies_from(args: argparse.Namespace) -> tuple:
    """The trusted proxies: --trusted-proxies, else NST_TRUSTED_PROXIES, else (--behind-proxy) this machine's."""
    from .server.clients import LOCAL_PROXY, parse_proxies

    named = list(args.trusted_proxies or []) or [os.environ.get("NST_TRUSTED_PROXIES", "")]
    proxies = parse_proxies(named)
    return proxies or (parse_proxies(LOCAL_PROXY) if args.behind_proxy else ())


def check_server_flags(args: argparse.Namespace) -> None:
    """Refuse flags Panel or Tornado would fail on later with a traceback (exit 1), with one sentence (exit 2)."""
    if not 0 <= args.port <= 65535:
        raise nstcore.ConfigError(f"--port must be between 0 and 65535, got {args.port}.")
    for flag, value in (
        ("--max-concurrent", args.max_concurrent),
        ("--batch-jobs", args.batch_jobs),
        ("--num-threads", args.num_threads),
    ):
        if value is not None and value < 1:
            raise nstcore.ConfigError(f"{flag} must be at least 1, got {value}.")
    check_public_url(args.public_url)
    if args.oauth_provider:
        from panel.auth import AUTH_PROVIDERS

        if args.oauth_provider not in AUTH_PROVIDERS:
            raise nstcore.ConfigError(
                f"--oauth-provider {nstcore.shown(args.oauth_provider)} is not one Panel knows; use one of "
                f"{', '.join(sorted(AUTH_PROVIDERS))}."
            )


def check_public_url(url: str | None) -> None:
    """``--public-url`` is where a room's phones go (the wall shows it and puts it in the QR code): an http or https
    address with a host, never ``javascript:`` or a bare word (they were accepted, and the QR code carried them)."""
    if not url:
        return
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  # a port that is not a number raises here
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname or any(c.isspace() for c in url):
        raise nstcore.ConfigError(
            f"--public-url {nstcore.shown(url)} is not an http or https address with a host; give one such as "
            "https://workshop.example.org/."
        )


def origins(args: argparse.Namespace) -> list[str]:
    """Websocket origins: the flags, plus NST_ALLOW_WEBSOCKET_ORIGIN; localhost when neither names one."""
    named = list(args.allow_websocket_origin or [])
    named += [o.strip() for o in os.environ.get("NST_ALLOW_WEBSOCKET_ORIGIN", "").split(",") if o.strip()]
    return named or [f"localhost:{args.port}", f"127.0.0.1:{args.port}"]


@dataclass
class Setup:
    """What the flags and the environment configure, checked before anything is served."""

    limits: Limits
    backend: Backend
    participants: str | None  # the basic-auth password or users file
    host_secret: str | None
    proxies: tuple
    cookie_secret: str  # signs visitor cookies and Panel's sign-in cookie


def setup(args: argparse.Namespace) -> Setup:
    """Check the flags and the environment and load the network. Raises NSTError with one sentence."""
    check_server_flags(args)
    limits = Limits.from_env(**{f.name: getattr(args, f.name) for f in fields(Limits)})
    proxies = proxies_from(args)
    password = basic_auth(args)
    host_secret = host_password(args, password)
    cookie_secret = secret_from(args.cookie_secret, "NST_COOKIE_SECRET", "cookie secret") or secrets.token_urlsafe(32)
    backend = Backend(
        weights=args.weights,
        device_name=args.device,
        max_concurrent=args.max_concurrent,
        batch_jobs=args.batch_jobs,
        max_queue=limits.max_queue,
        dask_address=args.dask_scheduler,
        stall_seconds=limits.job_stall_seconds,
        stuck_seconds=limits.stuck_thread_seconds,
        generators_dir=args.generators,
        targets=nstcore.RunTargets(**{f.name: getattr(args, f.name) for f in fields(nstcore.RunTargets)}),
    )
    if args.generators and not Path(args.generators).is_dir():
        raise nstcore.ConfigError(f"--generators {args.generators} is not a folder; give the folder of *.pt files.")
    print(f"demo_app: loading VGG19 ({backend.weights_label()} weights) on {backend.device_label} ...", file=sys.stderr)
    backend.warm_up("vgg19")
    return Setup(limits, backend, password, host_secret, proxies, cookie_secret)


def max_size_follows(
    args: argparse.Namespace, limits: Limits, targets: nstcore.RunTargets, set_limits: Callable[[Limits], None]
) -> Callable[[nstcore.Calibration], None] | None:
    """Where the host named no --max-size (nor NST_MAX_SIZE): once the device is measured, the largest picture follows
    its speed and the memory one job may use (nstcore.calibration.default_max_size)."""
    if args.max_size is not None or os.environ.get("NST_MAX_SIZE"):
        return None

    def follow(calibration: nstcore.Calibration) -> None:
        from nstcore.calibration import default_max_size

        from .jobs.memory import largest_side_in_memory

        size = default_max_size(calibration, targets, largest_side_in_memory(limits.max_job_gb))
        set_limits(dataclasses.replace(limits, max_size=size))
        log.info("max size %d px (from the device's speed and --max-job-gb)", size)

    return follow


def signed_in_users(args: argparse.Namespace, password: str | None) -> bool:
    """Whether people sign in as themselves (OAuth, or --basic-auth with a JSON file of users): then the signed-in
    user is the visitor. A shared room password names no one."""
    return bool(args.oauth_provider) or bool(password and os.path.isfile(password))


def auth_options(args: argparse.Namespace, password: str | None, cookie_secret: str) -> dict:
    """Panel's authentication options: basic auth and/or OAuth, with the cookie secret."""
    auth: dict = {}
    if password or args.oauth_provider:
        auth["cookie_secret"] = cookie_secret
    if password:
        auth["basic_auth"] = password
    if args.oauth_provider:
        auth.update(
            oauth_provider=args.oauth_provider,
            oauth_key=args.oauth_key,
            oauth_secret=args.oauth_secret,
            oauth_redirect_uri=args.oauth_redirect_uri,
            oauth_encryption_key=args.oauth_encryption_key,
        )
    return auth


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.debug else logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s"
    )
    try:
        ready = setup(args)
    except nstcore.NSTError as exc:
        if args.debug:
            raise
        print(f"error: {exc}", file=sys.stderr)
        return 2
    backend = ready.backend
    if backend.banner:
        print(f"demo_app: WARNING: {backend.banner}", file=sys.stderr)

    import panel as pn

    from .server.app import TITLE, applications, configure, serve_options, set_limits

    configure(
        backend,
        ready.limits,
        ready.host_secret or "",
        ready.proxies,
        args.public_url,
        ready.cookie_secret,
        signed_in_users(args, ready.participants),
    )
    # The device's speed, measured on a thread: Quick's and Full's sizes, the queue's first estimates, the max size.
    backend.calibrate_in_background(max_size_follows(args, ready.limits, backend.targets, set_limits))
    if args.num_threads:
        pn.config.nthreads = args.num_threads  # type: ignore[misc]  # a settable property Panel's stub marks read-only
    print(serving_line(args, ready), file=sys.stderr)
    # Everything loaded so far (torch, the network, Panel, Bokeh) lives as long as the process: moved out of the
    # collector's reach, a full collection no longer walks it on whichever thread triggers it, the loop's included.
    gc.collect()
    gc.freeze()
    try:
        server = serve(
            pn, args, auth_options(args, ready.participants, ready.cookie_secret), applications, serve_options, TITLE
        )
    except OSError as exc:  # the address does not resolve, the port is taken or privileged
        print(
            f"error: cannot serve on {args.address}:{args.port} ({exc.strerror or exc}); choose another --address or "
            "--port.",
            file=sys.stderr,
        )
        return 2
    stop_gracefully_on_signals(server, backend)
    server.start()
    server.io_loop.start()
    log.info("demo_app: stopped")
    return 0


def serving_line(args: argparse.Namespace, ready: Setup) -> str:
    """What the terminal is told when the server starts: where, its pages, how many jobs at once."""
    scheduler = ready.backend.scheduler
    return (
        f"demo_app: serving on http://{args.address}:{args.port}/ (status: /status, health: /liveness, host: /host"
        f" and /wall{'' if ready.host_secret else ' (locked: no --host-password)'}); "
        f"{scheduler.max_concurrent} job(s) at once"
        + (f" (each up to {scheduler.batch_jobs} of one shape stepping together)" if scheduler.batch_jobs > 1 else "")
        + f", queue of {scheduler.max_queue}"
    )


def serve(pn, args: argparse.Namespace, auth: dict, applications, serve_options, title: str):
    """The Bokeh server for the app (not started)."""
    return pn.serve(
        applications(),
        port=args.port,
        address=args.address,
        show=args.show,
        start=False,
        title=title,
        websocket_origin=origins(args),
        websocket_max_message_size=WEBSOCKET_MAX_BYTES,
        verbose=False,
        admin=args.admin,
        **serve_options(),
        **auth,
    )


# Uploads travel in 1 MiB chunks (widgets.Uploader), so no browser message comes near this; it is Bokeh's default,
# kept explicit because the old single-message uploads needed it raised to the upload limit.
WEBSOCKET_MAX_BYTES = 20 * 2**20

if __name__ == "__main__":
    sys.exit(main())
