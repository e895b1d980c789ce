"""The `enrolld` command. Each area registers its own subcommands (an explicit list below);
named errors become a one-line message and exit code 2, never a traceback."""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import sys

from . import __version__
from . import config as config_mod
from .errors import EnrolldError

# Modules that add subcommands through a `register(subparsers)` function. Imported lazily
# so that `enrolld check-config` never pays for OpenCV or LiteRT.
COMMAND_MODULES = (
    "enrolld.vision.commands",
    "enrolld.store.commands",
    "enrolld.api.commands",
    "enrolld.events.commands",
    "enrolld.daemon",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="enrolld", description="Face-enrollment appliance daemon.")
    parser.add_argument("--version", action="version", version=f"enrolld {__version__}")
    parser.add_argument("--log-level", default="INFO", help="DEBUG, INFO, WARNING or ERROR (default INFO)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    check = sub.add_parser("check-config", help="validate a config file and print it with secrets redacted")
    check.add_argument("path", help="TOML config file")
    check.set_defaults(func=check_config)

    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as e:
            if e.name != name:  # a real missing dependency, not an area not built yet
                raise
            continue
        module.register(sub)
    return parser


def subgroup(subparsers, name: str, help: str):
    """The sub-subparsers of a shared command group such as `bench` or `models`, created by
    whichever module asks first, so each area can add `enrolld bench <its-thing>`."""
    if name in subparsers.choices:
        return subparsers.choices[name]._enrolld_group
    parser = subparsers.add_parser(name, help=help)
    group = parser.add_subparsers(dest=f"{name}_command", metavar="WHAT", required=True)
    parser._enrolld_group = group
    return group


def check_config(args) -> int:
    config = config_mod.load(args.path)
    print(json.dumps(config_mod.redacted(config), indent=2))
    print(f"{args.path}: OK", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=getattr(logging, str(args.log_level).upper(), logging.INFO),
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        return args.func(args) or 0
    except EnrolldError as e:
        print(f"enrolld: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
