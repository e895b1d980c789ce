"""Every command and option the CLI has is documented in README.md."""

import argparse
import re
from pathlib import Path

from enrolld.cli import build_parser

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def commands(parser, prefix=()):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from commands(sub, prefix + (name,))
            return
    yield prefix, parser


def test_every_command_and_option_is_in_the_readme():
    found = list(commands(build_parser()))
    assert len(found) >= 6
    for words, parser in found:
        row = next((line for line in README.splitlines() if line.startswith("| `enrolld " + " ".join(words))), None)
        assert row, f"`enrolld {' '.join(words)}` is not in README's command table"
        for action in parser._actions:
            for option in action.option_strings:
                if option.startswith("--") and option != "--help":
                    assert re.search(re.escape(option) + r"\b", row), f"{option} of `enrolld {' '.join(words)}` is undocumented"
