"""Every command says its version and its usage, whether it is a module or a package's __main__."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import version

import pytest

from forams_lightning.cli import COMMANDS


@pytest.mark.parametrize("module", ["forams_lightning", "forams_lightning.identify", "forams_lightning.library"])
def test_every_command_says_its_version(module):
    done = subprocess.run([sys.executable, "-m", module, "--version"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"forams-lightning {version('forams-lightning')}"


def test_every_command_prints_its_usage():
    """`--help` of each (the concept packages' commands run their __main__), in one process per command."""
    for command in COMMANDS:
        done = subprocess.run([sys.executable, "-m", f"forams_lightning.{command}", "--help"], capture_output=True,
                              text=True, timeout=120)
        assert done.returncode == 0, (command, done.stderr[-500:])
        assert done.stdout.startswith(f"usage: python -m forams_lightning.{command} "), command
