#!/usr/bin/env bash
# Set up everything densviz needs on this machine: the venv with the pinned
# Python packages, and the system packages (graphviz's `dot`). Idempotent: when
# nothing is missing it only checks, in about a second.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
VENV=.venv
STAMP=$VENV/.densviz-installed
# graphviz: `dot` draws the graphs; chromium: kaleido's chart images (and browser tests);
# nginx: the proxy in front of app replicas (deploy/, and its test); texlive: compiles the
# TikZ figures that `densviz export --formats tex` writes (tikz.sty comes with texlive-pictures).
APT_PACKAGES=(graphviz chromium nginx texlive-latex-base texlive-pictures)
APT_BINARIES=(dot chromium nginx pdflatex /usr/share/texlive/texmf-dist/tex/latex/pgf/frontendlayer/tikz.sty)

# --- system packages
missing=()
for i in "${!APT_PACKAGES[@]}"; do
  probe=${APT_BINARIES[$i]}
  if [[ $probe == /* ]]; then
    [ -e "$probe" ] || missing+=("${APT_PACKAGES[$i]}")
  else
    command -v "$probe" >/dev/null 2>&1 || missing+=("${APT_PACKAGES[$i]}")
  fi
done
if ((${#missing[@]})); then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing system packages: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "setup: missing system packages: ${missing[*]}." >&2
    echo "setup: install them as root (sudo apt-get install ${missing[*]}); without them densviz gives DOT text instead of graph pictures and HTML instead of chart images." >&2
  fi
fi

# --- Python packages, reinstalled only when a requirements file changed
if [ ! -x "$VENV/bin/python" ]; then
  echo "setup: creating $VENV"
  "$PYTHON" -m venv "$VENV"
fi
if [ ! -f "$STAMP" ] || [ requirements.txt -nt "$STAMP" ] || [ requirements-dev.txt -nt "$STAMP" ] || [ pyproject.toml -nt "$STAMP" ]; then
  echo "setup: installing Python packages into $VENV (torch is the pinned CPU build)"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps -e .
  touch "$STAMP"
fi
