"""Estimate the reverberation time (T60) of audio files with an AWSSDR checkpoint.

Prints one line per file, `path<TAB>t60_seconds` (or one JSON object per line with --json). With
--segment-s S it also prints a T60 track: one line `path<TAB>start_s<TAB>t60_seconds` per S seconds
(`null` for a stretch of digital silence), then `path<TAB>all<TAB>t60_seconds` for the whole file
(JSON: {"path", "start_s", "end_s", "t60_s"} per segment, then {"path", "t60_s"}).
Recordings of any length are read in pieces. Stretches of digital silence (zero-energy frames) are left
out of the estimate. Multi-channel files: channel 0 unless --channel N (said once on stderr).
A file that cannot be estimated (unreadable, too short for one SDR window, silent throughout, non-finite)
gets an error line on stderr, the other files are still estimated, and the exit code is 1 at the end.
A whole-file estimate below -0.2 s is printed as it is, with a warning on stderr (segment values get none):
no room decays that fast, and dry speech reads about -0.1 to 0.4 s with the shipped model, so the recording
holds something the model misreads (docs/results.md found one: a baseline that steps with the speech, which a
high-pass at about 60 Hz removes).
"""
import argparse
import json
import sys

from awssdr.inference import load_estimator
from speechkit.audio import input_audio_files
from speechkit.cli import ChannelChoice, run
from speechkit.errors import UserError

IMPLAUSIBLE_BELOW_S = -0.2  # beyond what dry speech reads (down to about -0.1 s with the shipped model)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", help="a .dnn directory: ours or the authors' release (default: the shipped model)")
    parser.add_argument("inputs", nargs="+", metavar="FILE_OR_DIR")
    parser.add_argument("--json", action="store_true", help="one JSON object per line")
    parser.add_argument("--segment-s", type=float, metavar="S", help="also print one estimate per S seconds")
    parser.add_argument("--channel", type=int, metavar="N", help="channel of multi-channel files (0-based; default 0)")
    parser.add_argument("--device", default="auto")
    args = parser.parse_args(argv)
    if args.segment_s is not None and args.segment_s <= 0:
        parser.error(f"--segment-s must be positive, got {args.segment_s}")
    files = input_audio_files(args.inputs)
    estimator = load_estimator(args.checkpoint, device=args.device)
    channel = ChannelChoice(args.channel)
    failures = 0
    for path in files:
        try:
            if args.segment_s is None:
                t60_s, track = estimator.estimate_file(path, channel(path)), []
            else:
                t60_s, track = estimator.track_file(path, args.segment_s, channel(path))
        except (UserError, OSError) as err:  # this file's problem: go on with the others
            failures += 1
            print(f"error: {err}", file=sys.stderr)
            continue
        for segment in track:
            print(json.dumps({"path": str(path), **vars(segment)}) if args.json else
                  f"{path}\t{segment.start_s:.2f}\t{'null' if segment.t60_s is None else f'{segment.t60_s:.4f}'}")
        if t60_s < IMPLAUSIBLE_BELOW_S:
            print(f"warning: {path}: the T60 estimate is {t60_s:.2f} s, below zero; no room decays that fast, so "
                  "the recording holds something the model misreads (e.g. a DC baseline that steps with the speech: "
                  "high-pass it at about 60 Hz)", file=sys.stderr)
        whole = "all\t" if track else ""
        print(json.dumps({"path": str(path), "t60_s": t60_s}) if args.json else f"{path}\t{whole}{t60_s:.4f}",
              flush=True)
    if failures:
        print(f"{failures} file(s) could not be estimated", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    run(main)
