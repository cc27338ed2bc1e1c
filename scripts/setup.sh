#!/usr/bin/env bash
# Install memctl and everything it needs into ./.venv, then prepare the embedding model.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
.venv/bin/memctl model prepare --quiet
