"""ffmpeg as the media workers use it, on files real ffmpeg makes: joining recording parts
without re-encoding keeps every packet and the parts' duration, a frame is a JPEG, and
what ffmpeg cannot read is a MediaError; the VOD publisher refuses parts it does not have."""

from __future__ import annotations

import subprocess
from pathlib import Path
from uuid import uuid4

import pytest

from infra.media import ffmpeg
from tests.harness import REQUIRED
from workers.vod_publisher import VodPublisher, allowed_gap_s


@pytest.fixture(autouse=True)
def _needs_ffmpeg() -> None:
    missing = ffmpeg.available()
    if missing is not None:  # in CI a missing tool is a failure, never a skip
        if REQUIRED:
            pytest.fail(f"needs {missing} (.ci/run installs ffmpeg)")
        pytest.skip(f"needs {missing} (.ci/run installs ffmpeg)")


def recording(path: Path, seconds: float, pattern: str = "testsrc") -> Path:
    """An FLV as nginx-rtmp records one: H.264 and AAC."""
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi",
                    "-i", f"{pattern}=size=160x120:rate=30", "-f", "lavfi", "-i", "sine",
                    "-t", str(seconds), "-c:v", "libx264", "-preset", "ultrafast", "-g", "30",
                    "-c:a", "aac", "-f", "flv", str(path)], check=True, timeout=60)
    return path


def packets(path: Path) -> int:
    out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-count_packets",
                          "-show_entries", "stream=nb_read_packets", "-of", "csv=p=0",
                          str(path)], capture_output=True, text=True, check=True).stdout
    return int(out)


def test_parts_join_in_order_without_re_encoding(tmp_path: Path) -> None:
    parts = [recording(tmp_path / "a.flv", 1.0),
             recording(tmp_path / "b.flv", 2.0, "smptebars")]
    joined = tmp_path / "whole.mp4"
    ffmpeg.concat(parts, joined)
    expected = sum(ffmpeg.duration_s(str(p)) for p in parts)
    assert abs(ffmpeg.duration_s(str(joined)) - expected) <= allowed_gap_s(2, expected)
    assert packets(joined) == packets(parts[0]) + packets(parts[1])
    jpeg = ffmpeg.grab_frame(str(joined), at_s=0.5, width=160)
    assert jpeg[:2] == b"\xff\xd8" and jpeg[-2:] == b"\xff\xd9"


def test_what_ffmpeg_cannot_read_is_a_media_error(tmp_path: Path) -> None:
    junk = tmp_path / "junk.flv"
    junk.write_bytes(b"not a video at all")
    with pytest.raises(ffmpeg.MediaError):
        ffmpeg.duration_s(str(junk))
    with pytest.raises(ffmpeg.MediaError):
        ffmpeg.grab_frame(str(junk))
    with pytest.raises(ffmpeg.MediaError):
        ffmpeg.concat([], tmp_path / "none.mp4")


def test_the_publisher_refuses_parts_it_does_not_have(tmp_path: Path) -> None:
    publisher = VodPublisher(store=None, db=None, recordings=None, images=None,  # type: ignore[arg-type]
                             work_dir=tmp_path)
    with pytest.raises(ffmpeg.MediaError, match="not on this host"):
        publisher.publish(uuid4(), [tmp_path / "gone.flv"])
