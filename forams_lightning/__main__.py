"""`python -m forams_lightning [--version]`: the package's version and its commands."""

from __future__ import annotations

from forams_lightning.cli import COMMANDS, answer_version, version


def main() -> None:
    answer_version()
    print(f"forams-lightning {version()}")
    print("commands: " + ", ".join(f"python -m forams_lightning.{c}" for c in COMMANDS) + " (--help on each)")


if __name__ == "__main__":
    main()
