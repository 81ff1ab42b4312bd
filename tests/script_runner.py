"""Running a numbered script inside the test process, exactly as its command line would."""
import os
import runpy
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
SCRIPTS_RUN: set[str] = set()  # the scripts that ran to a successful end in this test session


def run_script(name: str, *args) -> None:
    """Run scripts/`name` in this process as `python scripts/NAME ARGS` would, from the repository root
    (the configs' relative paths start there); a script that exits with an error raises SystemExit."""
    argv, cwd = sys.argv, Path.cwd()
    sys.argv = [str(REPO_ROOT / "scripts" / name), *map(str, args)]
    try:
        os.chdir(REPO_ROOT)
        runpy.run_path(sys.argv[0], run_name="__main__")
    except SystemExit as exit_:
        if exit_.code not in (0, None):
            raise
    finally:
        sys.argv = argv
        os.chdir(cwd)
    SCRIPTS_RUN.add(name)
