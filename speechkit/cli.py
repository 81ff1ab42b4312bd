"""Command-line plumbing shared by the numbered scripts: a config file plus `--set key=value` overrides."""
import argparse


def experiment_parser(description: str, default_config: str) -> argparse.ArgumentParser:
    """A parser with --config (defaulting to the script's own experiment) and repeatable --set overrides."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--config", default=default_config, help=f"YAML experiment config (default: {default_config})")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config value, e.g. --set optim.lr=5e-4 (repeatable)")
    return parser
