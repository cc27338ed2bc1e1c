#!/usr/bin/env bash
# Install memctl and everything it needs into ./.venv, prepare the embedding model, and
# link the memctl command to ~/.local/bin/memctl (the path the cron and systemd examples
# use). Says what it does and how long each step took; safe to run again.
#
#   bash scripts/setup.sh            # MEMCTL_LINK=0 skips the ~/.local/bin link
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
venv="$repo/.venv"
link_dir="$HOME/.local/bin"
started=$SECONDS

step() { # step N TEXT: a numbered heading; the step's time is printed by `done_step`
  step_started=$SECONDS
  printf '[%s/4] %s\n' "$1" "$2"
}
done_step() { printf '      done in %ss%s\n' "$((SECONDS - step_started))" "${1:+: $1}"; }

step 1 "creating the virtual environment $venv"
python3 -m venv "$venv"
done_step "$("$venv/bin/python" --version)"

step 2 "installing memctl and its dependencies (torch CPU 2.13.0 pinned by constraints.txt,
      onnxruntime, sentence-transformers, sqlite-vec, ...): 3 to 6 minutes and 1.8 GB the
      first time, seconds when they are already installed"
# --no-warn-script-location: pip would warn once per package that .venv/bin is not on
# PATH; the last lines below say it once, with the fix.
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
  --no-warn-script-location -c constraints.txt -e '.[dev]'
done_step "$(du -sh "$venv" | cut -f1) in .venv"

step 3 "preparing the embedding model (all-MiniLM-L6-v2 exported to ONNX once, ~30 s)"
prepared=$("$venv/bin/memctl" model prepare)
done_step "${prepared#prepared }"

step 4 "linking $link_dir/memctl -> $venv/bin/memctl"
if [ "${MEMCTL_LINK:-1}" = 0 ]; then
  echo "      skipped (MEMCTL_LINK=0)"
elif [ -e "$link_dir/memctl" ] && [ ! -L "$link_dir/memctl" ]; then
  echo "      skipped: $link_dir/memctl exists and is not a link; left as it is"
else
  mkdir -p "$link_dir"
  ln -sfn "$venv/bin/memctl" "$link_dir/memctl"
  done_step
fi

echo
echo "memctl $("$venv/bin/memctl" --version | cut -d' ' -f2) is installed (setup took $((SECONDS - started))s)."
case ":$PATH:" in
  *":$link_dir:"*) on_path=1 ;;
  *) on_path=0 ;;
esac
if [ "$on_path" = 1 ] && [ -L "$link_dir/memctl" ]; then
  echo "Next: cd into your project and run: memctl init"
else
  if [ -L "$link_dir/memctl" ]; then bin_dir="\$HOME/.local/bin"; else bin_dir="$venv/bin"; fi
  echo "Next: put memctl on your PATH, then run memctl init in your project:"
  echo "  export PATH=\"$bin_dir:\$PATH\"    # add this line to ~/.bashrc or ~/.profile"
  echo "  cd /path/to/your/project && memctl init"
fi
echo "Tests: .venv/bin/python -m pytest -q"
