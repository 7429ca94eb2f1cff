"""The adaptive-bitrate ladder of the self-hosted ingest: `AETHEX_INGEST_QUALITIES` names
renditions (`720p,480p`, or with bitrates `360p:800,240p:400`), and nginx-rtmp runs one
ffmpeg per published stream (its `exec`) that transcodes the source into each of them,
published to the `ladder` application, whose `hls_variant` entries make the HLS master
playlist (`<stream id>.m3u8`, one variant per rendition). `source` (the default) offers
the encoder's own stream, untouched.

Standard library only: the ingest image (infra/ingest/nginx/) runs this file as a script to
render its config, so the ladder the API advertises and the one nginx runs are one code.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass

# The plan's streamingConfig: 1080p/720p/480p at 8000/5000/2500 kbps; smaller ones scaled
# down from those (kbps of video; audio comes on top).
DEFAULT_KBPS = {1080: 8000, 720: 5000, 480: 2500, 360: 1000, 240: 500, 160: 250}
AUDIO_KBPS = 96
_NAME = re.compile(r"^(\d{2,4})p(?::(\d{2,6}))?$")


@dataclass(frozen=True)
class Rendition:
    """One rung: `height` lines at `video_kbps`, the width following the source's shape."""

    height: int
    video_kbps: int

    @property
    def name(self) -> str:
        return f"{self.height}p"

    @property
    def bandwidth(self) -> int:
        """Bits per second a player should budget (video and audio), for the master playlist."""
        return (self.video_kbps + AUDIO_KBPS) * 1000


def parse_qualities(text: str) -> list[Rendition]:
    """The renditions named, highest first; [] for `source` (no transcoding). ValueError
    names what is wrong, for the start-up check."""
    names = [q.strip().lower() for q in text.split(",") if q.strip()]
    if not names or names == ["source"]:
        return []
    out: list[Rendition] = []
    for name in names:
        m = _NAME.match(name)
        if m is None:
            raise ValueError(f"{name!r} is not a rendition: write 720p, or 720p:5000 with a "
                             "video bitrate in kbps (or `source` alone)")
        height = int(m.group(1))
        if not 90 <= height <= 2160 or height % 2:
            raise ValueError(f"{name!r}: the height must be even, 90-2160")
        kbps = int(m.group(2)) if m.group(2) else DEFAULT_KBPS.get(height)
        if kbps is None:
            raise ValueError(f"{name!r}: give its bitrate (e.g. {height}p:1500)")
        out.append(Rendition(height=height, video_kbps=kbps))
    if len({r.height for r in out}) != len(out):
        raise ValueError("a rendition is named twice")
    return sorted(out, key=lambda r: r.height, reverse=True)


def exec_directive(renditions: list[Rendition], source_url: str, ladder_url: str,
                   ffmpeg: str = "ffmpeg") -> str:
    """nginx-rtmp's `exec` line for the `hls` application: one ffmpeg decoding the source
    once and encoding every rendition, keyframes every second (the HLS fragment), each
    published to the ladder as `<stream id>_<name>`."""
    if not renditions:
        return ""
    # Probing the input is much of a transcoder's start-up: a second of it finds the
    # encoder's audio and video (shorter, and ffmpeg may miss the video), not the default 5 s.
    args = [ffmpeg, "-hide_banner", "-loglevel", "error", "-nostdin",
            "-analyzeduration", "1000000", "-i", f"{source_url}/$name"]
    for r in renditions:
        args += ["-map", "0:v:0", "-map", "0:a:0?",
                 "-c:v", "libx264", "-preset", "veryfast", "-tune", "zerolatency",
                 "-vf", f"scale=-2:{r.height}",
                 "-b:v", f"{r.video_kbps}k", "-maxrate", f"{r.video_kbps}k",
                 "-bufsize", f"{r.video_kbps * 2}k",
                 "-force_key_frames", '"expr:gte(t,n_forced*1)"', "-sc_threshold", "0",
                 "-c:a", "aac", "-b:a", f"{AUDIO_KBPS}k", "-ar", "44100",
                 "-f", "flv", f"{ladder_url}/$name_{r.name}"]
    return "exec " + " ".join(args) + ";"


def variant_directives(renditions: list[Rendition]) -> str:
    """The ladder application's `hls_variant` lines: the master playlist lists them in
    this order (highest first)."""
    return "\n            ".join(
        f"hls_variant _{r.name} BANDWIDTH={r.bandwidth};" for r in renditions)


def template_values(qualities: str, rtmp_loopback: str, ffmpeg: str = "ffmpeg"
                    ) -> dict[str, str]:
    """The template's ladder placeholders: `rtmp_loopback` is how nginx reaches its own
    RTMP port (`127.0.0.1:1935`)."""
    renditions = parse_qualities(qualities)
    base = f"rtmp://{rtmp_loopback}"
    return {
        "HLS_SOURCE": "off" if renditions else "on",
        # nginx-rtmp refuses two HLS writers on one path: only one of them is on
        "HLS_LADDER": "on" if renditions else "off",
        "LADDER_EXEC": exec_directive(renditions, f"{base}/hls", f"{base}/ladder", ffmpeg),
        "LADDER_VARIANTS": variant_directives(renditions),
    }


if __name__ == "__main__":  # the ingest image: prints shell assignments for envsubst
    import shlex

    values = template_values(sys.argv[1] if len(sys.argv) > 1 else "source",
                             sys.argv[2] if len(sys.argv) > 2 else "127.0.0.1:1935")
    for key, value in values.items():
        print(f"export {key}={shlex.quote(value)}")
