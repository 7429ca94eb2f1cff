"""ffmpeg and ffprobe as the media workers use them: a file's duration, joining a stream's
recording parts into one video without re-encoding (the concat demuxer, `-c copy`), and a
JPEG frame grabbed from a video or a live playlist."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from pathlib import Path


class MediaError(RuntimeError):
    """ffmpeg or ffprobe failed, or what they made does not hold."""


def available() -> str | None:
    """None when ffmpeg and ffprobe are installed, else what is missing."""
    return ", ".join(n for n in ("ffmpeg", "ffprobe") if shutil.which(n) is None) or None


def _run(args: list[str], timeout_s: float) -> subprocess.CompletedProcess[bytes]:
    try:
        done = subprocess.run(args, capture_output=True, timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired:
        raise MediaError(f"{args[0]} took longer than {timeout_s:.0f} s") from None
    if done.returncode != 0:
        raise MediaError(f"{args[0]} failed: {done.stderr.decode(errors='replace')[-500:]}")
    return done


def duration_s(path_or_url: str, timeout_s: float = 60) -> float:
    """The container's duration, in seconds."""
    out = _run(["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "json",
                path_or_url], timeout_s).stdout
    try:
        return float(json.loads(out)["format"]["duration"])
    except (KeyError, ValueError) as e:
        raise MediaError(f"ffprobe gave no duration for {path_or_url}") from e


def concat(parts: list[Path], out: Path, timeout_s: float = 3600) -> None:
    """Joins `parts`, in order, into `out` (MP4, moov atom first so it plays while it
    downloads) with the concat demuxer and no re-encode."""
    if not parts:
        raise MediaError("nothing to join")
    with tempfile.NamedTemporaryFile("w", suffix=".txt", dir=out.parent, delete=False) as f:
        for part in parts:
            # the concat list's quoting: a single quote closes, \' and reopens
            f.write("file '" + str(part.resolve()).replace("'", "'\\''") + "'\n")
        listing = Path(f.name)
    try:
        _run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-y",
              "-f", "concat", "-safe", "0", "-i", str(listing), "-map", "0", "-c", "copy",
              "-movflags", "+faststart", str(out)], timeout_s)
    finally:
        listing.unlink(missing_ok=True)


def grab_frame(source: str, *, at_s: float | None = None, width: int = 640,
               timeout_s: float = 30) -> bytes:
    """One JPEG frame of `source` (a file, or a live playlist's newest segments), `width`
    wide."""
    seek = ["-ss", f"{at_s:.3f}"] if at_s is not None else []
    done = _run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", *seek,
                 "-i", source, "-frames:v", "1", "-vf", f"scale={width}:-2",
                 "-f", "image2", "-c:v", "mjpeg", "-q:v", "4", "pipe:1"], timeout_s)
    if not done.stdout.startswith(b"\xff\xd8"):
        raise MediaError(f"no frame from {source}")
    return done.stdout
