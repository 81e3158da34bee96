"""Native log lines (TensorFlow's C++ core writes to descriptor 2) go to a log
file while the app runs, never across the screen Textual draws on."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
import textwrap

CHILD = textwrap.dedent("""
    import os, sys
    from tui.terminal import native_output_to_log
    with native_output_to_log(sys.argv[1], terminal_only=sys.argv[2] == "app") as path:
        os.write(2, b"NATIVE-NOISE from C++\\n")     # what TensorFlow does
        sys.__stderr__.write("DRAWN-BY-TEXTUAL\\n")  # where Textual draws
        sys.__stderr__.flush()
        print("PYTHON-STDERR", file=sys.stderr, flush=True)   # click's error lines
    os.write(2, b"AFTER-THE-APP\\n")                 # the terminal is descriptor 2 again
    print(path)
""")


def _run_with_stderr(stderr, log, who="app"):
    return subprocess.run([sys.executable, "-c", CHILD, str(log), who], stdout=subprocess.PIPE,
                          stderr=stderr, text=True, timeout=60)


def test_on_a_terminal_native_lines_go_to_the_log_and_the_screen_stays_clean(tmp_path):
    log = tmp_path / "logs" / "native.log"
    main, child = pty.openpty()
    try:
        done = _run_with_stderr(child, log)
        os.close(child)
        seen = b""
        while True:
            try:
                chunk = os.read(main, 4096)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
    finally:
        os.close(main)
    assert done.returncode == 0
    screen = seen.decode()
    assert "DRAWN-BY-TEXTUAL" in screen and "AFTER-THE-APP" in screen
    assert "PYTHON-STDERR" in screen
    assert "NATIVE-NOISE" not in screen
    assert log.read_text() == "NATIVE-NOISE from C++\n"
    assert done.stdout.strip() == str(log)


def test_the_command_line_through_a_pipe_keeps_only_its_own_lines(tmp_path):
    log = tmp_path / "native.log"
    done = _run_with_stderr(subprocess.PIPE, log, who="cli")
    assert done.returncode == 0
    assert "NATIVE-NOISE" not in done.stderr
    assert "PYTHON-STDERR" in done.stderr and "AFTER-THE-APP" in done.stderr
    assert log.read_text() == "NATIVE-NOISE from C++\n"


def test_without_a_terminal_the_app_redirects_nothing(tmp_path):
    log = tmp_path / "native.log"
    done = _run_with_stderr(subprocess.PIPE, log)
    assert done.returncode == 0
    assert "NATIVE-NOISE" in done.stderr and "DRAWN-BY-TEXTUAL" in done.stderr
    assert not log.exists() and done.stdout.strip() == "None"
