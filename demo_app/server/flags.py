"""The flags of a shared server (``python -m demo_app``): concurrency, origins, proxies, authentication, Dask,
generators and the run lengths' time targets. The limits' flags come from :class:`~demo_app.session.limits.Limits`."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from dataclasses import fields

import nstcore


def hosting_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of a shared server: concurrency, origins, proxies, authentication, Dask, generators."""
    host = parser.add_argument_group("hosting (a workshop server)")
    for flags in (_room_flags, _access_flags, _cluster_flags, _run_length_flags):
        flags(host.add_argument)


def _room_flags(add: Callable[..., argparse.Action]) -> None:
    """How much runs at once, and who may reach the server through which address."""
    add(
        "--max-concurrent",
        type=int,
        default=None,
        help="Jobs running at once on the device (default: 1 on a GPU, cores/8 on a CPU).",
    )
    add(
        "--batch-jobs",
        type=int,
        default=int(os.environ["NST_BATCH_JOBS"]) if os.environ.get("NST_BATCH_JOBS", "").isdigit() else None,
        help="Jobs of one shape (size, model, pooling, precision, optimiser) that step together in one pass, "
        "each with its own images, weights and result (default: 1, off, on a CPU; 8 on a GPU). Env NST_BATCH_JOBS.",
    )
    add("--num-threads", type=int, default=None, help="Threads for Panel's event handlers (Panel's --num-threads).")
    add(
        "--allow-websocket-origin",
        action="append",
        default=None,
        help="Host[:port] allowed to open the websocket (repeatable), e.g. the proxy's public name; "
        "also NST_ALLOW_WEBSOCKET_ORIGIN (comma-separated).",
    )
    add(
        "--trusted-proxies",
        action="append",
        default=None,
        metavar="ADDR[,ADDR]",
        help="Proxies whose X-Forwarded-For names the client (per-client limits): addresses or networks, "
        "repeatable (env NST_TRUSTED_PROXIES, comma-separated; default none: headers are ignored).",
    )
    add(
        "--public-url",
        default=os.environ.get("NST_PUBLIC_URL") or None,
        metavar="URL",
        help="Where participants join, e.g. https://workshop.example.org/ (the wall shows it and its QR code; "
        "env NST_PUBLIC_URL; default: the address the wall's browser used).",
    )
    add(
        "--behind-proxy",
        action="store_true",
        help="Short for --trusted-proxies 127.0.0.1,::1 (a proxy on this machine).",
    )


def _access_flags(add: Callable[..., argparse.Action]) -> None:
    """Who may open the pages, and who may open the host console."""
    add(
        "--basic-auth",
        default=None,
        help="A password, or a JSON file of user: password pairs (Panel's --basic-auth). Prefer "
        "NST_BASIC_AUTH or NST_BASIC_AUTH_FILE: a password given here shows in `ps`.",
    )
    add(
        "--host-password",
        default=None,
        help="Unlocks the host console at /host (never the participants' password). Prefer NST_HOST_PASSWORD or "
        "NST_HOST_PASSWORD_FILE: a password given here shows in `ps`. Without one, /host is locked.",
    )
    add(
        "--cookie-secret",
        default=None,
        help="Secret that signs the cookies: each browser's visitor cookie and Panel's sign-in. Give every process "
        "serving one room the same one (behind a load balancer). Prefer NST_COOKIE_SECRET or NST_COOKIE_SECRET_FILE; "
        "random if unset (a restart then makes every browser a new visitor).",
    )
    add("--oauth-provider", default=None, help="e.g. github, google, azure, generic (Panel's OAuth).")
    add("--oauth-key", default=None)
    add("--oauth-secret", default=None)
    add("--oauth-redirect-uri", default=None)
    add("--oauth-encryption-key", default=None)
    add("--admin", action="store_true", help="Panel's admin dashboard at /admin.")


def _cluster_flags(add: Callable[..., argparse.Action]) -> None:
    """Where jobs run besides this process, and the generators every page is offered."""
    add(
        "--dask-scheduler",
        default=None,
        metavar="tcp://HOST:PORT",
        help="Run jobs on a Dask distributed cluster instead of in this process.",
    )
    add(
        "--generators",
        default=os.environ.get("NST_GENERATORS") or None,
        metavar="DIR",
        help="A folder of trained generators (*.pt, from --save-generator or the page) offered to every page as "
        "instant styles (env NST_GENERATORS).",
    )


def _run_length_flags(add: Callable[..., argparse.Action]) -> None:
    """Quick's and Full's time targets (or pinned sizes): nstcore.RunTargets, measured against the device at start."""
    for f in fields(nstcore.RunTargets):
        add("--" + f.name.replace("_", "-"), type=f.type if callable(f.type) else type(f.default), default=f.default,
            help=f"{f.metadata['help']} (default {f.default:g})")  # fmt: skip
