#!/usr/bin/env bash
# Install everything the project needs: the Debian packages the default corpus is made from (speech
# synthesis engines; recorded speech and noise, about 350 MB: speechkit/corpus/recorded.py), and a Python virtual environment in .venv with the project installed in it, editable, with the
# dependencies pyproject.toml lists (requirements.txt; requirements-dev.txt adds the test tools with --dev).
set -euo pipefail
cd "$(dirname "$0")/.."

DEBIAN_PACKAGES=(espeak-ng flite festival festvox-kallpc16k festvox-kdlpc16k festvox-us-slt-hts
    fillets-ng-data-cs asterisk-core-sounds-en-wav asterisk-core-sounds-es-wav asterisk-core-sounds-fr-wav
    asterisk-core-sounds-it-wav asterisk-core-sounds-ru-wav klettres-data codec2-examples pocketsphinx-testdata
    sonic-pi-samples alsa-utils)
# Never add fillets-ng-data-nl: the Dutch voices are reserved for evaluation outside the project.
missing=()
for package in "${DEBIAN_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
        echo "setup: installing Debian packages: ${missing[*]}"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    else
        echo "setup: the default corpus needs these Debian packages (about 420 MB); run:" >&2
        echo "    sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
        exit 1
    fi
fi

PYTHON=${PYTHON:-python3}
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    echo "setup: Python 3.11 or newer is needed ($PYTHON is $("$PYTHON" --version 2>&1)); set PYTHON=/path/to/python3.11" >&2
    exit 1
fi
if [ ! -x .venv/bin/python ]; then
    echo "setup: creating the virtual environment .venv"
    "$PYTHON" -m venv .venv || { echo "setup: venv failed; on Debian/Ubuntu: sudo apt-get install python3-venv" >&2; exit 1; }
fi
requirements=requirements.txt
[ "${1:-}" = "--dev" ] && requirements=requirements-dev.txt
.venv/bin/python -m pip install --quiet --disable-pip-version-check -r "$requirements"
