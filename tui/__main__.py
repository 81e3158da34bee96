"""Entry point of the ``deepterm`` command."""

from __future__ import annotations


def main(argv: list[str] | None = None) -> int:
    from .app import DeeptermApp

    DeeptermApp().run()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
