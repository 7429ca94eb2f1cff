# shellcheck shell=bash
# Sourced by scripts/serve, scripts/test and .ci/run: installs the web client's browser
# packages (hls.js, socket.io-client, swagger-ui-dist, and axe-core for the browser test),
# pinned exactly in web/package.json, into web/node_modules when they are missing or older
# than package.json. No lock file is written (web/.npmrc). Without npm it says what to do
# and answers 1: the API runs without these packages, the pages and /schema need them.
# Expects the repository root as the working directory (as _venv.sh leaves it).

aethex_ensure_web() {
    local stamp=web/node_modules/.aethex-installed
    if [ -f "$stamp" ] && ! [ web/package.json -nt "$stamp" ]; then
        return 0
    fi
    if ! command -v npm >/dev/null 2>&1; then
        echo "aethex: npm is not installed, so the web client's pages and the API docs page" \
            "(/schema) are not set up; the API itself runs without them." >&2
        echo "aethex: to get the pages, install Node.js and npm (Debian/Ubuntu:" \
            "apt-get install nodejs npm) and run this again." >&2
        return 1
    fi
    echo "aethex: installing the web client's browser packages (npm install in web/)" >&2
    if ! (cd web && npm install --no-audit --no-fund --silent </dev/null); then
        echo "aethex: npm install failed in web/; the pages and /schema need those" \
            "packages (the API itself runs without them)" >&2
        return 1
    fi
    touch "$stamp"
}
