"""Write the ACE challenge single-channel speech manifest (OUT/<split>.csv) with the authors' T60 per room.

Room, microphone position, talker, utterance, noise and SNR come from each file name
(<mic>_<room>_<config>_<talker>_<utterance>_<noise>_<snr>dB.wav, awssdr.corpora.ACE_NAME_PATTERN, or
--pattern); T60s from the authors' table, overridden by --labels (CSV with columns room_config,t60_s).
Example: python scripts/0_prepare_ace.py --ace ACE/Eval/Speech/Single --split eval --out data/ace
"""
import argparse

from awssdr.corpora import ACE_NAME_PATTERN, prepare_ace
from speechkit.cli import run


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ace", required=True, help="folder holding the ACE single-channel speech files")
    parser.add_argument("--out", default="data/ace", help="output folder (default: data/ace)")
    parser.add_argument("--split", default="eval", choices=["eval", "dev"])
    parser.add_argument("--labels", help="CSV room_config,t60_s overriding the authors' T60s")
    parser.add_argument("--mic", default="Single", help="microphone configuration to keep (default: Single)")
    parser.add_argument("--pattern", default=ACE_NAME_PATTERN,
                        help="regular expression with groups room, config, talker, noise, snr (matched on file names)")
    args = parser.parse_args(argv)
    out = prepare_ace(args.ace, args.out, args.split, args.labels, args.pattern, args.mic)
    print(f"wrote {out} ({len(out.read_text().splitlines()) - 1} files)")


if __name__ == "__main__":
    run(main, None)
