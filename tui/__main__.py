"""Entry point of the ``deepterm`` command (and ``python -m tui``).

``deepterm`` alone opens the app without loading the command line's modules
(click, NumPy, the datasets), so the first frame is not delayed; any argument
goes to the command line in ``tui.cli``.
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else list(argv)
    if not args:
        from .app import run_app

        run_app()
        return 0
    from .cli import run_cli

    return run_cli(args)


if __name__ == "__main__":
    raise SystemExit(main())
