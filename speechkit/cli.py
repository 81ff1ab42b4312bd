"""Command-line plumbing shared by the scripts: user mistakes as one-line errors, config files with overrides."""
import argparse
import os
import sys
from typing import Callable

import soundfile as sf

from .errors import UserError

# File-system mistakes are the user's too (a path that does not exist, an output that is not empty).
USER_ERRORS = (UserError, FileNotFoundError, FileExistsError, NotADirectoryError, IsADirectoryError,
               PermissionError)


def run(main: Callable[..., int | None], *args) -> None:
    """Run a script's `main(*args)` and exit with its code; a user's mistake is printed as one line
    `error: ...` on stderr with exit code 2, and anything else (a bug) keeps its traceback. Output piped into
    a reader that stops early (`| head`) ends the script quietly, as other command-line tools do."""
    try:
        code = main(*args)
    except USER_ERRORS as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
    except BrokenPipeError:
        # Python would flush stdout again at exit and print a second error: point it at /dev/null first.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)
    sys.exit(code or 0)


def experiment_parser(description: str, default_config: str) -> argparse.ArgumentParser:
    """A parser with --config (defaulting to the script's own experiment) and repeatable --set overrides."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--config", default=default_config, help=f"YAML experiment config (default: {default_config})")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config value, e.g. --set optim.lr=5e-4 (repeatable)")
    return parser


class ChannelChoice:
    """The channel the command-line tools read from a file: `--channel N` when given; otherwise channel 0 of
    a multi-channel file, which is said once per run on stderr."""

    def __init__(self, channel: int | None):
        self.channel, self.said = channel, False

    def __call__(self, path) -> int | None:
        if self.channel is not None:
            return self.channel
        try:
            channels = sf.info(str(path)).channels
        except (sf.LibsndfileError, RuntimeError, OSError):
            return None  # unreadable: the reader will say why
        if channels > 1 and not self.said:
            print(f"note: multi-channel input ({path} has {channels} channels): reading channel 0; "
                  "choose another with --channel N", file=sys.stderr)
            self.said = True
        return 0 if channels > 1 else None
