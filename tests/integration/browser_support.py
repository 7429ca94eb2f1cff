"""Real browsers for the tests: Debian's Chromium (never a browser Playwright downloads),
axe-core from the web client's npm packages, and where page screenshots go."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from infra.web.client_files import INSTALL_HINT, WebClientFiles
from tests.harness import REQUIRED

CHROMIUM = os.environ.get("AETHEX_TEST_CHROMIUM", "/usr/bin/chromium")
AXE = WebClientFiles().packages / "axe-core" / "axe.min.js"
# Set to a folder (docs/screenshots) to keep the page screenshots the browser test takes.
SCREENSHOTS = os.environ.get("AETHEX_TEST_SCREENSHOTS")
SIZES = {"desktop": (1280, 800), "mobile": (390, 844)}


def _missing(message: str) -> None:
    """A missing browser or package fails in CI (or with services required), and skips
    the test elsewhere."""
    if REQUIRED or os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def chromium() -> str:
    """The browser's path."""
    found = shutil.which(CHROMIUM)
    if found is None:
        _missing(f"no Chromium at {CHROMIUM} (Debian's `chromium` package)")
    return str(found)


def require_web_packages() -> None:
    missing = WebClientFiles().missing()
    if missing or not AXE.is_file():
        _missing(f"{INSTALL_HINT} (scripts/test does it)")


def launch_args() -> list[str]:
    """Muted autoplay without a gesture, and nothing fetched behind the test's back."""
    return ["--autoplay-policy=no-user-gesture-required", "--disable-background-networking",
            "--disable-gpu"]


def serious_violations(page: Any) -> list[dict[str, Any]]:
    """axe-core's serious and critical findings on the page as it is now. Evaluated
    through the DevTools protocol, which the page's CSP does not govern: the page itself
    never loads axe."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(AXE.read_text())
    results = page.evaluate("""async () => {
        const r = await axe.run(document, {resultTypes: ["violations"]});
        return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.slice(0, 3).map(n => n.target.join(" "))}));
    }""")
    return [v for v in results if v["impact"] in ("serious", "critical")]


def screenshot_dir(fallback: Path) -> Path:
    folder = Path(SCREENSHOTS) if SCREENSHOTS else fallback
    folder.mkdir(parents=True, exist_ok=True)
    return folder
