# shellcheck shell=bash
# Sourced by scripts/serve, scripts/test, .ci/run and the other scripts: makes sure ./.venv
# holds the project (installed editable) and is no older than pyproject.toml.
#
#   source scripts/_venv.sh serve  # what serving needs: the project's dependencies only
#   source scripts/_venv.sh dev    # and the dev extras (tests, lint, benchmarks, CI)
#
# (Always with its argument: a file sourced without one sees its caller's arguments.)
#
# A venv installed with the dev extras serves as it is; one installed for serving gets the
# dev extras added the first time a script asks for them. pip's own output is the progress
# (which package it is fetching and installing), never silenced: a first install takes a
# minute or more. Leaves the caller in the repository root.

AETHEX_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$AETHEX_ROOT" || exit 1

_aethex_python_ok() {
    "$1" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' >/dev/null 2>&1
}

_aethex_find_python() {
    local candidate
    for candidate in python3.11 python3; do
        if command -v "$candidate" >/dev/null 2>&1 && _aethex_python_ok "$candidate"; then
            echo "$candidate"
            return 0
        fi
    done
    return 1
}

# _aethex_installed MARKER: the venv was installed that way and pyproject.toml has not
# changed since.
_aethex_installed() {
    [ -f "$1" ] && ! [ pyproject.toml -nt "$1" ]
}

aethex_ensure_venv() {
    local want="$1" spec marker started
    case "$want" in
        serve) spec='.' ; marker=.venv/.installed-serve ;;
        dev) spec='.[dev]' ; marker=.venv/.installed-dev ;;
        *) echo "aethex: source scripts/_venv.sh with 'serve' or 'dev', not '$want'" >&2; return 1 ;;
    esac
    export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1

    # A venv whose interpreter is gone or too old is rebuilt from scratch.
    if [ -d .venv ] && ! { [ -x .venv/bin/python ] && _aethex_python_ok .venv/bin/python; }; then
        echo "aethex: .venv is broken or older than Python 3.11; recreating it" >&2
        rm -rf .venv
    fi

    if [ -x .venv/bin/python ]; then
        # .installed: what an older _venv.sh left after installing the dev extras.
        if _aethex_installed "$marker" || _aethex_installed .venv/.installed-dev \
            || _aethex_installed .venv/.installed; then
            return 0
        fi
    else
        local python
        if ! python="$(_aethex_find_python)"; then
            echo "aethex: Python 3.11 or newer is required (tried python3.11 and python3)." >&2
            if command -v python3 >/dev/null 2>&1; then
                echo "aethex: python3 here is $(python3 -c 'import platform; print(platform.python_version())' 2>/dev/null || echo unknown)." >&2
            fi
            return 1
        fi
        echo "aethex: creating .venv with $python" >&2
        "$python" -m venv .venv || { echo "aethex: could not create .venv (is the venv module installed?)" >&2; return 1; }
    fi

    if [ "$want" = dev ]; then
        echo "aethex: installing the project with its dev extras into .venv (pip install -e '.[dev]')" >&2
    else
        echo "aethex: installing what serving needs into .venv (pip install -e .; the dev extras come with scripts/test)" >&2
    fi
    started=$SECONDS
    # pip writes its progress to stdout; the caller's stdout may be what it serves or
    # tests, so it goes to stderr with the rest of this step's messages.
    if ! .venv/bin/python -m pip install --progress-bar on -e "$spec" >&2; then
        echo "aethex: pip install failed" >&2
        return 1
    fi
    touch "$marker"
    echo "aethex: .venv ready in $((SECONDS - started)) s" >&2
}

aethex_ensure_venv "${1:-}" || exit 1
