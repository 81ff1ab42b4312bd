"""Estimate the reverberation time (T60) of audio files with an AWSSDR checkpoint.

Prints one line per file, `path<TAB>t60_seconds` (or one JSON object per line with --json). A file that
cannot be estimated (unreadable, too short for one SDR frame, silent, non-finite) gets an error line on
stderr, the other files are still estimated, and the exit code is 1 at the end.
"""
import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from awssdr.inference import load_estimator  # noqa: E402
from speechkit.audio import AUDIO_SUFFIXES, find_audio_files  # noqa: E402


def audio_files(inputs) -> list[Path]:
    """The given files, and the audio files (by extension) under the given directories, sorted."""
    files = []
    for item in map(Path, inputs):
        found = find_audio_files(item) if item.is_dir() else [item]
        if not found:
            raise FileNotFoundError(f"{item}: no audio files ({', '.join(AUDIO_SUFFIXES)}) in this folder tree")
        files += found
    return files


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", required=True, help="a .dnn directory: ours or the authors' release")
    parser.add_argument("inputs", nargs="+", metavar="FILE_OR_DIR")
    parser.add_argument("--json", action="store_true", help="one JSON object per line")
    parser.add_argument("--device", default="auto")
    args = parser.parse_args(argv)
    try:
        files = audio_files(args.inputs)
    except FileNotFoundError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    estimator = load_estimator(args.checkpoint, device=args.device)
    failures = 0
    for path in files:
        try:
            t60_s = estimator.estimate_file(path)
        except (ValueError, OSError) as err:
            failures += 1
            print(f"error: {err}", file=sys.stderr)
            continue
        print(json.dumps({"path": str(path), "t60_s": t60_s}) if args.json else f"{path}\t{t60_s:.4f}", flush=True)
    if failures:
        print(f"{failures} file(s) could not be estimated", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
