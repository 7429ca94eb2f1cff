"""The web client's files on disk: its pages and assets (the repository's `web/` folder,
or `AETHEX_WEB_DIR`) and the browser packages npm installs beside them
(`web/node_modules`, pinned in `web/package.json`), served from our own origin so that no
page loads code from anywhere else.

Only the files named in `VENDOR` are served out of `node_modules`: a package's other files
(its sources, tests, READMEs) never reach the web.
"""

from __future__ import annotations

from pathlib import Path

# The name a page loads under /vendor/, and the installed file it is.
VENDOR = {
    "hls.mjs": "hls.js/dist/hls.mjs",
    "hls.worker.js": "hls.js/dist/hls.worker.js",
    "socket.io.esm.min.js": "socket.io-client/dist/socket.io.esm.min.js",
    "swagger-ui-bundle.js": "swagger-ui-dist/swagger-ui-bundle.js",
    "swagger-ui.css": "swagger-ui-dist/swagger-ui.css",
}

# A page's name (its route's) and its file under web/pages/.
PAGES = ("home", "stream", "dashboard", "profile", "register", "login", "onboarding")

MEDIA_TYPES = {".js": "text/javascript; charset=utf-8", ".mjs": "text/javascript; charset=utf-8",
               ".css": "text/css; charset=utf-8", ".html": "text/html; charset=utf-8",
               ".svg": "image/svg+xml", ".png": "image/png", ".ico": "image/x-icon"}

INSTALL_HINT = ("the web client's browser packages are not installed: run `npm install` in "
                "web/ (scripts/serve does it when npm is present; on Debian: apt-get install "
                "npm)")


def default_web_dir() -> Path:
    """The repository's `web/` folder (beside the Python packages)."""
    return Path(__file__).resolve().parents[2] / "web"


class WebClientFiles:
    """Where the pages, assets and installed packages are, and whether they are there."""

    def __init__(self, root: str | Path | None = None) -> None:
        self.root = Path(root) if root else default_web_dir()
        self.assets = self.root / "assets"
        self.packages = self.root / "node_modules"
        self._read: dict[Path, tuple[int, int, bytes]] = {}

    def read(self, path: Path) -> bytes:
        """The file's bytes, read once and kept while its size and modification time stay
        the same (the vendor bundles are a megabyte or more; an edited page is read anew)."""
        stat = path.stat()
        kept = self._read.get(path)
        if kept is not None and kept[:2] == (stat.st_mtime_ns, stat.st_size):
            return kept[2]
        data = path.read_bytes()
        self._read[path] = (stat.st_mtime_ns, stat.st_size, data)
        return data

    def page(self, name: str) -> Path:
        if name not in PAGES:
            raise KeyError(name)
        return self.root / "pages" / f"{name}.html"

    def vendor(self, name: str) -> Path | None:
        """The installed file served as /vendor/NAME, or None (unknown, or not installed)."""
        relative = VENDOR.get(name)
        if relative is None:
            return None
        path = self.packages / relative
        return path if path.is_file() else None

    def missing(self) -> list[str]:
        """The vendor files a page needs that are not installed (all of them before
        `npm install`)."""
        return [name for name, relative in VENDOR.items()
                if not (self.packages / relative).is_file()]

    def asset(self, relative: str) -> Path | None:
        """A file under assets/, or None for a path that leaves it or names no file."""
        base = self.assets.resolve()
        path = (base / relative).resolve()
        if base not in path.parents or not path.is_file():
            return None
        return path


def media_type(path: Path) -> str:
    return MEDIA_TYPES.get(path.suffix, "application/octet-stream")
