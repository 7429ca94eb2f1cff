"""The web client's files on disk: its pages and assets (the repository's `web/` folder,
or `AETHEX_WEB_DIR`) and the browser packages npm installs beside them
(`web/node_modules`, pinned in `web/package.json`), served from our own origin so that no
page loads code from anywhere else.

Only the files named in `VENDOR` are served out of `node_modules`: a package's other files
(its sources, tests, READMEs) never reach the web.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from pathlib import Path

# The name a page loads under /vendor/, and the installed file it is.
VENDOR = {
    "hls.mjs": "hls.js/dist/hls.mjs",
    "hls.worker.js": "hls.js/dist/hls.worker.js",
    "socket.io.esm.min.js": "socket.io-client/dist/socket.io.esm.min.js",
    "swagger-ui-bundle.js": "swagger-ui-dist/swagger-ui-bundle.js",
    "swagger-ui.css": "swagger-ui-dist/swagger-ui.css",
}


@dataclass(frozen=True)
class Page:
    """A page's own part of the shared layout (`web/pages/_layout.html`): its title, and
    whether its main column is the narrow one of the forms. The page's file under
    web/pages/ holds what goes inside its `<main>`; the layout holds the rest (the head
    with the stylesheet and the page's module script, the site header), once."""

    title: str
    narrow: bool = False


# A page's name (its route's, its file's under web/pages/, its script's under
# assets/js/pages/).
PAGES: dict[str, Page] = {
    "home": Page("Live now"),
    "stream": Page("Stream"),
    "dashboard": Page("Dashboard"),
    "profile": Page("Your profile"),
    "register": Page("Sign up", narrow=True),
    "login": Page("Sign in", narrow=True),
    "onboarding": Page("Set up your account", narrow=True),
}
LAYOUT = "_layout.html"

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
        """The file of a page's main content (a name not in `PAGES` is a KeyError)."""
        if name not in PAGES:
            raise KeyError(name)
        return self.root / "pages" / f"{name}.html"

    def render(self, name: str) -> bytes:
        """The whole page: the layout around the page's main content (both files read
        through `read`, so an edit to either shows on the next request)."""
        page = PAGES[name]
        main = self.read(self.page(name)).decode()
        layout = self.read(self.root / "pages" / LAYOUT).decode()
        # The page's content goes in last, so that nothing in it is taken for a slot.
        return (layout.replace("{{title}}", html.escape(page.title))
                .replace("{{page}}", name)
                .replace("{{main_class}}", ' class="narrow"' if page.narrow else "")
                .replace("{{main}}", main)).encode()

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
