"""``python -m nstcore`` (and ``python -m demo_app``'s start-up checks) for the tests, in a process of its own forked
from a server that has torch imported already.

A subprocess that imports torch and torchvision costs ~3 s before it runs anything; the suite runs the command line
about fifty times. :func:`run_cli` keeps what a subprocess gives the tests (a separate process, its exit code,
everything it writes to stdout and stderr, its own working folder, torch's default threads) and drops the import:
multiprocessing's *forkserver* imports nstcore once, in a process that has run no torch operation (so no OpenMP
pool exists to be copied half-made by ``fork``), and forks a fresh child for each call. ``python -m nstcore`` itself
stays covered by the tests that use :func:`conftest.nst_subprocess`.
"""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
import tempfile
import traceback
from pathlib import Path

_CONTEXT = None


def _context():
    global _CONTEXT
    if _CONTEXT is None:
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(
            ["cli_child", "torch", "torchvision", "nstcore.cli", "nstcore.cli.run", "demo_app.__main__"]
        )
        _CONTEXT = context
    return _CONTEXT


def _child(module: str, argv: list[str], cwd: str, env: dict[str, str] | None, out_path: str, err_path: str) -> None:
    """In the forked child: stdout and stderr to files, then ``module``'s main; the process exits with its code."""
    os.chdir(cwd)
    if env is not None:  # exactly this environment, as subprocess.run(env=...) gives
        os.environ.clear()
        os.environ.update(env)
    for fd, path in ((1, out_path), (2, err_path)):
        handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(handle, fd)
        os.close(handle)
    code: object = 1
    try:
        import importlib

        code = importlib.import_module(module).main(argv)
    except SystemExit as exc:  # argparse's usage errors exit 2, as under python -m
        code = exc.code
    except BaseException:  # noqa: BLE001 - what python -m would print: a traceback on stderr, exit 1
        traceback.print_exc()
        code = 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
    if code is None:
        code = 0
    os._exit(code if isinstance(code, int) else 1)


def run_main(
    module: str, args: list[str], cwd: Path, env: dict[str, str] | None = None, timeout: float = 240.0
) -> subprocess.CompletedProcess:
    """``python -m <package>`` as ``module.main(args)`` in a forked process: its exit code, stdout and stderr."""
    with tempfile.TemporaryDirectory(prefix="nst-cli-") as folder:
        out, err = Path(folder) / "stdout", Path(folder) / "stderr"
        process = _context().Process(target=_child, args=(module, list(args), str(cwd), env, str(out), str(err)))
        process.start()
        process.join(timeout)
        if process.is_alive():
            process.kill()
            process.join(10)
            raise subprocess.TimeoutExpired([module, *args], timeout)
        return subprocess.CompletedProcess(
            [module, *args],
            process.exitcode if process.exitcode is not None else -1,
            out.read_text(errors="replace"),
            err.read_text(errors="replace"),
        )


def run_cli(args: list[str], cwd: Path, timeout: float = 240.0) -> subprocess.CompletedProcess:
    """``python -m nstcore *args`` in a forked process."""
    return run_main("nstcore.cli", args, cwd, timeout=timeout)
