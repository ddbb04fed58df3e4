"""``python -m demo_app``: serve the dashboard (Panel on Bokeh server).

    python -m demo_app                       # http://localhost:5006, pretrained VGG19, best device
    python -m demo_app --weights random --device cpu --port 5007 --no-show
"""

from __future__ import annotations

import argparse
import logging
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
    parser.add_argument("--allow-websocket-origin", action="append", default=None,
                        help="Host[:port] allowed to open the websocket (repeatable), e.g. behind a proxy.")
    parser.add_argument("--debug", action="store_true", help="Verbose logs with tracebacks.")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.INFO,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        backend = Backend(weights=args.weights, device_name=args.device)
        limits = Limits.from_env(max_upload_mb=args.max_upload_mb, max_pixels=args.max_pixels,
                                 max_size=args.max_size, max_steps=args.max_steps)
        print(f"demo_app: loading VGG19 ({args.weights}) on {backend.device_label} ...", file=sys.stderr)
        backend.warm_up("vgg19")
    except nstcore.NSTError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if backend.banner:
        print(f"demo_app: WARNING: {backend.banner}", file=sys.stderr)

    import panel as pn

    from .app import TITLE, configure, create_app

    configure(backend, limits)
    host = args.address or "localhost"
    print(f"demo_app: serving on http://{host}:{args.port}/", file=sys.stderr)
    pn.serve({"/": create_app}, port=args.port, address=args.address, show=args.show, title=TITLE,
             websocket_origin=args.allow_websocket_origin or [f"localhost:{args.port}", f"127.0.0.1:{args.port}"],
             websocket_max_message_size=int((limits.max_upload_mb + 5) * 2**20), verbose=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
