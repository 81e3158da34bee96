"""`deepterm serve` (issue 20, point 5): the app in a browser through textual-serve.

The end-to-end test starts the real server and drives a real headless Chromium (Debian's
`chromium`, through Playwright pointed at that executable): the page shows the setup
screen, 2 and ctrl+s train the Titanic preset, the screen says Finished and the run is in
the store; a second tab gets an app of its own, in a process of its own. It reads the
screen from the page's own xterm.js terminal. Chromium is kept to this machine: every
host name but 127.0.0.1 resolves to nothing and every other request is aborted. It skips,
saying why, where Playwright or Chromium is absent."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from engine import RunStore
from engine.store import ENV_VAR
from tui.cli import cli
from tui.cli.serve import app_command, is_local, public_url_for

ROOT = Path(__file__).resolve().parents[1]


# -- the command, without a browser ---------------------------------------------------------------


class FakeServer:
    """Stands in for textual_serve.server.Server: records what it was given."""

    made: list[dict] = []

    def __init__(self, command, host, port, title, public_url, templates_path):
        self.made.append({"command": command, "host": host, "port": port, "url": public_url})
        self.page = (Path(templates_path) / "app_index.html").read_text()

    def serve(self) -> None:
        pass


@pytest.fixture
def fake_server(monkeypatch):
    pytest.importorskip("textual_serve", reason="the serve extra is not installed")
    import textual_serve.server

    FakeServer.made = []
    monkeypatch.setattr(textual_serve.server, "Server", FakeServer)
    return FakeServer.made


def test_serve_listens_on_localhost_by_default_without_a_warning(fake_server, tmp_path):
    store = tmp_path / "class.db"
    result = CliRunner().invoke(cli, ["serve", "--store", str(store)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert result.output == ""
    assert fake_server == [{"command": f"exec {sys.executable} -m tui --store {store}",
                            "host": "127.0.0.1", "port": 8000, "url": "http://127.0.0.1:8000"}]


def test_the_page_asks_nothing_of_the_internet(tmp_path):
    """textual-serve's template without its Google web font; the rest as it was."""
    textual_serve = pytest.importorskip("textual_serve", reason="the serve extra is not installed")
    from tui.cli.serve import offline_templates

    original = (Path(textual_serve.__file__).parent / "templates" / "app_index.html").read_text()
    assert "fonts.googleapis.com" in original      # what it removes is still there to remove
    page = (offline_templates(tmp_path) / "app_index.html").read_text()
    assert "googleapis" not in page and "https://" not in page
    assert page.count("\n") < original.count("\n") <= page.count("\n") + 5   # the <link> only
    for kept in ('css/xterm.css" />', 'js/textual.js"></script>', "Roboto Mono", "<body"):
        assert kept in page


def test_serve_warns_when_other_machines_can_reach_it(fake_server):
    result = CliRunner().invoke(cli, ["serve", "--host", "0.0.0.0", "--port", "8080"],
                                catch_exceptions=False)
    assert result.exit_code == 0
    assert result.output.startswith("deepterm: warning: listening on 0.0.0.0:8080: anyone who "
                                    "can reach this machine can open the app")
    assert len(result.output.strip().splitlines()) == 1
    assert fake_server[0]["url"] == f"http://{socket.gethostname()}:8080"


@pytest.mark.parametrize("host, local", [("127.0.0.1", True), ("localhost", True), ("::1", True),
                                         ("127.0.0.2", True), ("0.0.0.0", False),
                                         ("10.1.2.3", False), ("teacher-pc", False)])
def test_which_hosts_are_local(host, local):
    assert is_local(host) is local


def test_the_public_url_and_the_apps_command():
    assert public_url_for("0.0.0.0", 8000, "https://class.example/") == "https://class.example"
    assert public_url_for("::1", 9000, None) == "http://[::1]:9000"
    assert app_command(None) == f"exec {sys.executable} -m tui"


def test_serve_without_textual_serve_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "textual_serve.server", None)
    monkeypatch.setitem(sys.modules, "textual_serve", None)
    result = CliRunner().invoke(cli, ["serve"])
    assert result.exit_code == 1
    assert "pip install 'deepterm[serve]'" in result.output


def test_a_bad_port_is_a_usage_error():
    result = CliRunner().invoke(cli, ["serve", "--port", "70000"])
    assert result.exit_code == 2


# -- a real browser -----------------------------------------------------------------------------------

#: Captures the page's xterm.js Terminal when textual-serve's client stores it as `.terminal`.
CAPTURE_TERMINAL = """
Object.defineProperty(Object.prototype, "terminal", {
  configurable: true,
  set(value) {
    Object.defineProperty(this, "terminal",
                          {value, writable: true, configurable: true, enumerable: true});
    if (value && value.buffer) { window.__deeptermTerminal = value; }
  },
});
"""
#: The terminal's visible rows as text: what the learner sees.
SCREEN = """() => {
  const t = window.__deeptermTerminal;
  if (!t) return "";
  const b = t.buffer.active, rows = [];
  for (let i = 0; i < t.rows; i++) {
    const line = b.getLine(b.viewportY + i);
    rows.push(line ? line.translateToString(true) : "");
  }
  return rows.join("\\n");
}"""


@pytest.fixture
def chromium():
    """(Playwright's sync API, a Chromium executable); skips, saying why, without them."""
    playwright = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed "
                                     "(pip install -e '.[dev]')")
    found = os.environ.get("DEEPTERM_CHROMIUM") or next(
        (p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p),
        None)
    if not found:
        pytest.skip("Chromium is not installed (Debian: apt-get install chromium; or set "
                    "DEEPTERM_CHROMIUM to a Chromium executable): the browser test needs a real "
                    "browser")
    return playwright, found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server(tmp_path):
    """`deepterm serve` on a free local port, in its own process group (its apps too),
    stopped and reaped afterwards."""
    pytest.importorskip("textual_serve", reason="the serve extra is not installed")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != ENV_VAR}
    env.update(XDG_DATA_HOME=str(tmp_path), DEEPTERM_LOG=os.devnull, PYTHONPATH=str(ROOT))
    store = tmp_path / "class.db"
    proc = subprocess.Popen([sys.executable, "-m", "tui", "serve", "--port", str(port),
                             "--store", str(store)], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"the server did not start: {proc.stdout.read()!r}") from None
                time.sleep(0.2)
        yield f"http://127.0.0.1:{port}/", store, proc
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=20)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        proc.stdout.close()


def wait_for(page, *words: str, timeout_s: float = 60) -> str:
    deadline = time.monotonic() + timeout_s
    screen = ""
    while time.monotonic() < deadline:
        screen = page.evaluate(SCREEN)
        if all(w in screen for w in words):
            return screen
        time.sleep(0.25)
    raise AssertionError(f"{words} never showed; the screen was:\n{screen}")


def app_processes(server_pid: int) -> list[int]:
    """The app processes the server started (one per tab: `python -m tui --store ...`)."""
    out = subprocess.run(["ps", "-o", "pid=,args=", "-ww", "--ppid", str(server_pid)],
                         capture_output=True, text=True).stdout
    return [int(line.split()[0]) for line in out.splitlines()
            if line.split()[1:4] == [sys.executable, "-m", "tui"]]


def wait_for_apps(server_pid: int, count: int, timeout_s: float = 30) -> list[int]:
    deadline = time.monotonic() + timeout_s
    while (found := app_processes(server_pid)) and len(found) != count \
            and time.monotonic() < deadline:
        time.sleep(0.2)
    return found


@pytest.mark.timeout(240)
def test_a_browser_trains_the_titanic_preset_through_deepterm_serve(chromium, server):
    playwright, executable = chromium
    url, store, proc = server
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=[
            "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1"])
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 800})
            elsewhere = []       # requests beyond the server: none (an offline class)

            def local_only(route):
                if route.request.url.startswith(("http://127.0.0.1", "ws://127.0.0.1")):
                    return route.continue_()
                elsewhere.append(route.request.url)
                return route.abort()

            context.route("**/*", local_only)
            context.add_init_script(CAPTURE_TERMINAL)
            page = context.new_page()
            page.goto(url)
            screen = wait_for(page, "deepterm — set up a run", "Ready:")
            assert "2 Titanic classification" in screen
            assert elsewhere == []

            page.locator(".xterm-screen").click()
            page.keyboard.press("2")
            wait_for(page, "Ready: titanic: hidden 32, sgd lr=0.01")
            page.keyboard.press("Control+s")
            screen = wait_for(page, "Finished", "Epoch 20/20", timeout_s=120)
            assert "deepterm — training" in screen and "completed every epoch" in screen

            other = context.new_page()            # a second learner: an app of their own
            other.goto(url)
            wait_for(other, "deepterm — set up a run", "Ready:")
            assert "Finished" in page.evaluate(SCREEN)
            assert len(wait_for_apps(proc.pid, 2)) == 2      # a process per tab
            other.close()                                    # a tab closed: its app ends
            assert len(wait_for_apps(proc.pid, 1)) == 1
        finally:
            browser.close()
    runs = RunStore(store).list()
    assert [(r.dataset_name, r.status, r.epochs_done) for r in runs] == [("titanic", "completed", 20)]
