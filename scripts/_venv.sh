# shellcheck shell=bash
# Sourced by scripts/serve, scripts/test and .ci/run: makes sure ./.venv holds the project
# (installed editable with its dev extras) and is no older than pyproject.toml.
# Leaves the caller in the repository root.

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

aethex_ensure_venv() {
    export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1

    # A venv whose interpreter is gone or too old is rebuilt from scratch.
    if [ -d .venv ] && ! { [ -x .venv/bin/python ] && _aethex_python_ok .venv/bin/python; }; then
        echo "aethex: .venv is broken or older than Python 3.11; recreating it" >&2
        rm -rf .venv
    fi

    if [ -x .venv/bin/python ] && [ -f .venv/.installed ] && ! [ pyproject.toml -nt .venv/.installed ]; then
        return 0
    fi

    if [ ! -x .venv/bin/python ]; then
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

    echo "aethex: installing the project into .venv (pip install -e '.[dev]')" >&2
    if ! .venv/bin/python -m pip install --quiet -e '.[dev]'; then
        echo "aethex: pip install failed" >&2
        return 1
    fi
    touch .venv/.installed
}

aethex_ensure_venv || exit 1
