"""``python -m demo_app``: serve the dashboard (Panel on Bokeh server).

    python -m demo_app                       # http://localhost:5006, pretrained VGG19, best device
    python -m demo_app --weights random --device cpu --port 5007 --no-show
"""

from __future__ import annotations

import argparse
import logging
import secrets
import sys

import nstcore

from .backend import Backend
from .limits import Limits


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m demo_app", description="Serve the style-transfer dashboard.")
    parser.add_argument("--port", type=int, default=5006)
    parser.add_argument("--address", default=None, help="Interface to bind (default: all).")
    parser.add_argument("--weights", default="imagenet", help="imagenet, random, or a path to a .pth state dict.")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps.")
    parser.add_argument("--show", dest="show", action="store_true", default=True, help="Open a browser tab.")
    parser.add_argument("--no-show", dest="show", action="store_false", help="Do not open a browser tab.")
    parser.add_argument("--max-upload-mb", type=float, default=None, help="Upload size limit (env NST_MAX_UPLOAD_MB).")
    parser.add_argument("--max-pixels", type=int, default=None, help="Upload pixel limit (env NST_MAX_PIXELS).")
    parser.add_argument("--max-size", type=int, default=None, help="Largest output size (env NST_MAX_SIZE).")
    parser.add_argument("--max-steps", type=int, default=None, help="Most steps per run (env NST_MAX_STEPS).")
    parser.add_argument("--max-variants", type=int, default=None, help="Most variants per comparison "
                        "(env NST_MAX_VARIANTS).")
    host = parser.add_argument_group("hosting (a workshop server)")
    host.add_argument("--max-concurrent", type=int, default=None,
                      help="Jobs running at once on the device (default: 1 on a GPU, cores/8 on a CPU).")
    host.add_argument("--max-queue", type=int, default=40, help="Jobs that may wait in the queue.")
    host.add_argument("--num-threads", type=int, default=None,
                      help="Threads for Panel's event handlers (Panel's --num-threads).")
    host.add_argument("--allow-websocket-origin", action="append", default=None,
                      help="Host[:port] allowed to open the websocket (repeatable), e.g. the proxy's public name.")
    host.add_argument("--basic-auth", default=None,
                      help="A password, or a JSON file of user: password pairs (Panel's --basic-auth).")
    host.add_argument("--cookie-secret", default=None, help="Secret for signed cookies (auth); random if unset.")
    host.add_argument("--oauth-provider", default=None, help="e.g. github, google, azure, generic (Panel's OAuth).")
    host.add_argument("--oauth-key", default=None)
    host.add_argument("--oauth-secret", default=None)
    host.add_argument("--oauth-redirect-uri", default=None)
    host.add_argument("--oauth-encryption-key", default=None)
    host.add_argument("--admin", action="store_true", help="Panel's admin dashboard at /admin.")
    host.add_argument("--dask-scheduler", default=None, metavar="tcp://HOST:PORT",
                      help="Run jobs on a Dask distributed cluster instead of in this process.")
    parser.add_argument("--debug", action="store_true", help="Verbose logs with tracebacks.")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.INFO,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        backend = Backend(weights=args.weights, device_name=args.device, max_concurrent=args.max_concurrent,
                          max_queue=args.max_queue, dask_address=args.dask_scheduler)
        limits = Limits.from_env(max_upload_mb=args.max_upload_mb, max_pixels=args.max_pixels,
                                 max_size=args.max_size, max_steps=args.max_steps, max_variants=args.max_variants)
        print(f"demo_app: loading VGG19 ({args.weights}) on {backend.device_label} ...", file=sys.stderr)
        backend.warm_up("vgg19")
    except nstcore.NSTError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if backend.banner:
        print(f"demo_app: WARNING: {backend.banner}", file=sys.stderr)

    import panel as pn

    from .app import TITLE, configure, create_app, create_status

    configure(backend, limits)
    if args.num_threads:
        pn.config.nthreads = args.num_threads
    auth: dict = {}
    if args.basic_auth or args.oauth_provider:
        auth["cookie_secret"] = args.cookie_secret or secrets.token_urlsafe(32)
    if args.basic_auth:
        auth["basic_auth"] = args.basic_auth
    if args.oauth_provider:
        auth.update(oauth_provider=args.oauth_provider, oauth_key=args.oauth_key, oauth_secret=args.oauth_secret,
                    oauth_redirect_uri=args.oauth_redirect_uri, oauth_encryption_key=args.oauth_encryption_key)
    host = args.address or "localhost"
    scheduler = backend.scheduler
    print(f"demo_app: serving on http://{host}:{args.port}/ (status: /status, health: /liveness); "
          f"{scheduler.max_concurrent} job(s) at once, queue of {scheduler.max_queue}", file=sys.stderr)
    pn.serve({"/": create_app, "/status": create_status}, port=args.port, address=args.address, show=args.show,
             title=TITLE, websocket_origin=args.allow_websocket_origin or [f"localhost:{args.port}",
                                                                           f"127.0.0.1:{args.port}"],
             websocket_max_message_size=int((limits.max_upload_mb + 5) * 2**20), verbose=False,
             admin=args.admin, liveness=True, **SESSION_CLEANUP, **auth)
    return 0


# A closed tab's session is destroyed (and its job cancelled) within about 1.5 s instead of Bokeh's ~30 s default.
SESSION_CLEANUP = {"check_unused_sessions_milliseconds": 500, "unused_session_lifetime_milliseconds": 1000}


if __name__ == "__main__":
    sys.exit(main())
