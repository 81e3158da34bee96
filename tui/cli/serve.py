"""``deepterm serve``: the app in a web browser, through textual-serve.

    deepterm serve                       # http://127.0.0.1:8000, this machine only
    deepterm serve --host 0.0.0.0 --public-url http://teacher-pc:8000   # a class

Each browser tab that opens the page gets its own app in its own process (textual-serve
starts ``python -m tui`` for each connection and ends it when the tab closes), so the
learners of a class share one install and one machine, each with their own screen. The
runs they train all go to one run store (``--store``, else the default), which several
processes may write at once. Registered on ``tui.cli.commands.cli`` when ``tui.cli`` is
imported; textual-serve loads only when the command runs.
"""

from __future__ import annotations

import ipaddress
import re
import shlex
import socket
import sys
import tempfile
from pathlib import Path

import click

from .commands import Failure, cli, store_option

LOCAL_HOSTS = ("localhost",)


def is_local(host: str) -> bool:
    """Whether ``host`` only listens on this machine (a loopback address or localhost)."""
    if host.lower() in LOCAL_HOSTS:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def app_command(store: Path | None) -> str:
    """The shell command textual-serve runs for each browser tab: this Python, this app
    (``exec``: the app replaces the shell, one process per tab)."""
    args = [sys.executable, "-m", "tui"]
    if store is not None:
        args += ["--store", str(store.resolve())]
    return "exec " + shlex.join(args)


#: the page's one request beyond the server: a web font from Google (textual-serve's template)
_WEB_FONT = re.compile(r'\s*<link\b[^>]*href="https?://fonts\.googleapis\.com[^"]*"[^>]*>', re.S)


def offline_templates(folder: Path) -> Path:
    """``folder`` holding textual-serve's page template without its web font, which the
    page would fetch from fonts.googleapis.com: a class offline or behind a firewall
    must not wait on the internet, and the page names monospace fonts of the machine
    after it. Everything else the page loads comes from the server."""
    import textual_serve

    page = Path(textual_serve.__file__).parent / "templates" / "app_index.html"
    (folder / page.name).write_text(_WEB_FONT.sub("", page.read_text(encoding="utf-8")),
                                    encoding="utf-8")
    return folder


def public_url_for(host: str, port: int, public_url: str | None) -> str:
    """The address browsers use (the page's websocket points there): --public-url, else
    this host's name when listening on every address (0.0.0.0 or ::), else the host."""
    if public_url:
        return public_url.rstrip("/")
    if host in ("0.0.0.0", "::", ""):
        host = socket.gethostname()
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{port}"


@cli.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="the address to listen on; 0.0.0.0 lets other machines in (see the warning)")
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True)
@click.option("--public-url", metavar="URL", default=None,
              help="the address browsers reach the server at, when it is not http://HOST:PORT "
                   "(a proxy, a name); default with --host 0.0.0.0: this machine's name")
@store_option
def serve_command(host, port, public_url, store_path) -> None:
    """Serve the app to web browsers (textual-serve): one app, in its own process, per tab.

    By default only this machine can open it (127.0.0.1). For a class, run it on one
    machine with --host 0.0.0.0 and give the learners the address it prints; every run
    they train goes to the run store (--store). Ctrl+C stops the server and its apps.

    \b
    Examples:
      deepterm serve
      deepterm serve --host 0.0.0.0 --port 8000 --store class-runs.db
    """
    try:
        from textual_serve.server import Server
    except ImportError as exc:
        raise Failure(f"deepterm serve needs textual-serve ({exc}); install it with "
                      f"`pip install 'deepterm[serve]'`") from None
    url = public_url_for(host, port, public_url)
    if not is_local(host):
        click.echo(f"deepterm: warning: listening on {host}:{port}: anyone who can reach this "
                   f"machine can open the app and use it as you (train, read and write files "
                   f"through its dialogs); there is no password. Serve a class only on a network "
                   f"you trust", err=True)
    with tempfile.TemporaryDirectory(prefix="deepterm-serve-") as folder:
        server = Server(app_command(store_path), host=host, port=port, title="deepterm",
                        public_url=url, templates_path=offline_templates(Path(folder)))
        server.serve()
