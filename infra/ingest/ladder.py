"""The adaptive-bitrate ladder of the self-hosted ingest: `AETHEX_INGEST_QUALITIES` names
renditions (`720p,480p`, or with bitrates `360p:800,240p:400`), and nginx-rtmp runs one
ffmpeg per published stream (its `exec`) that transcodes the source into each of them,
published to the `ladder` application, which writes each as HLS. `source` alone (the
default) offers the encoder's own stream, untouched, and nothing else; `source` in a ladder
(`source,360p:800,240p:400`, or `source:6000,...` with the bitrate encoders are held to)
offers it as the top variant beside the transcoded ones: nginx writes it as it comes
(`source/<stream id>.m3u8`), so it plays as soon as one rendition would, while the
transcoder is still starting. nginx's HTTP side answers the master playlist
(`<stream id>.m3u8`, one variant per rendition, in the ladder's order) once the first
variant has a segment.

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
# The source's bitrate is the encoder's: unless the ladder gives it, the plan's top one.
SOURCE_KBPS = DEFAULT_KBPS[1080]
AUDIO_KBPS = 96
SOURCE = "source"
SOURCE_DIR = "source"  # under the HLS directory: where nginx writes the source variant
_NAME = re.compile(r"^(?:(\d{2,4})p|(source))(?::(\d{2,6}))?$")


@dataclass(frozen=True)
class Rendition:
    """One rung: `height` lines at `video_kbps`, the width following the source's shape;
    `height` None is the source, passed on untouched (`video_kbps` then is what the
    master playlist announces and what encoders are held to)."""

    height: int | None
    video_kbps: int

    @property
    def name(self) -> str:
        return SOURCE if self.height is None else f"{self.height}p"

    @property
    def transcoded(self) -> bool:
        return self.height is not None

    @property
    def bandwidth(self) -> int:
        """Bits per second a player should budget (video and audio), for the master playlist."""
        return (self.video_kbps + AUDIO_KBPS) * 1000


def parse_qualities(text: str) -> list[Rendition]:
    """The renditions named, the source (if named) first, then highest first; [] for
    `source` alone (no transcoding). ValueError names what is wrong, for the start-up
    check."""
    names = [q.strip().lower() for q in text.split(",") if q.strip()]
    if not names or names == [SOURCE]:
        return []
    out: list[Rendition] = []
    for name in names:
        m = _NAME.match(name)
        if m is None:
            raise ValueError(f"{name!r} is not a rendition: write 720p, or 720p:5000 with a "
                             "video bitrate in kbps, and `source` (or source:6000) for the "
                             "encoder's own stream")
        if m.group(2):
            out.append(Rendition(height=None, video_kbps=int(m.group(3) or SOURCE_KBPS)))
            continue
        height = int(m.group(1))
        if not 90 <= height <= 2160 or height % 2:
            raise ValueError(f"{name!r}: the height must be even, 90-2160")
        kbps = int(m.group(3)) if m.group(3) else DEFAULT_KBPS.get(height)
        if kbps is None:
            raise ValueError(f"{name!r}: give its bitrate (e.g. {height}p:1500)")
        out.append(Rendition(height=height, video_kbps=kbps))
    if len({r.height for r in out}) != len(out):
        raise ValueError("a rendition is named twice")
    if not any(r.transcoded for r in out):
        raise ValueError(f"{text.strip()!r}: the source alone is `source` (its limit: "
                         "AETHEX_INGEST_MAX_BITRATE_KBPS)")
    return sorted(out, key=lambda r: (r.transcoded, -(r.height or 0)))


def exec_directive(renditions: list[Rendition], source_url: str, ladder_url: str,
                   ffmpeg: str = "ffmpeg") -> str:
    """nginx-rtmp's `exec` line for the `hls` application: one ffmpeg decoding the source
    once and encoding every transcoded rendition, keyframes every second (the HLS
    fragment), each published to the ladder as `<stream id>_<name>`."""
    transcoded = [r for r in renditions if r.transcoded]
    if not transcoded:
        return ""
    # nginx passes a player joining a live stream its video from the encoder's next
    # keyframe on, so the transcoder's probe of its input has to last until then (up to a
    # keyframe interval: OBS's usual is 2 s, which a 1-second probe missed) and should end
    # as soon as it has come: `-fpsprobesize 0` takes the frame rate from the stream's
    # metadata instead of counting frames, and the probe then ends with the first keyframe
    # (ffmpeg's default `-analyzeduration` of 5 s is only its upper bound).
    args = [ffmpeg, "-hide_banner", "-loglevel", "error", "-nostdin",
            "-fpsprobesize", "0", "-i", f"{source_url}/$name"]
    for r in transcoded:
        args += ["-map", "0:v:0", "-map", "0:a:0?",
                 "-c:v", "libx264", "-preset", "veryfast", "-tune", "zerolatency",
                 "-vf", f"scale=-2:{r.height}",
                 "-b:v", f"{r.video_kbps}k", "-maxrate", f"{r.video_kbps}k",
                 "-bufsize", f"{r.video_kbps * 2}k",
                 "-force_key_frames", '"expr:gte(t,n_forced*1)"', "-sc_threshold", "0",
                 "-c:a", "aac", "-b:a", f"{AUDIO_KBPS}k", "-ar", "44100",
                 "-f", "flv", f"{ladder_url}/$name_{r.name}"]
    return "exec " + " ".join(args) + ";"


def variant_uri(rendition: Rendition, stream: str = "${stream}") -> str:
    """Where a variant's media playlist is, relative to the master (`stream`: the stream
    id, by default as nginx's variable)."""
    if rendition.transcoded:
        return f"{stream}_{rendition.name}.m3u8"
    return f"{SOURCE_DIR}/{stream}.m3u8"


def master_playlist(renditions: list[Rendition], stream: str) -> str:
    """The HLS master playlist of a ladder: one variant per rendition, in the ladder's
    order (players start on the first)."""
    lines = ["#EXTM3U", "#EXT-X-VERSION:3"]
    for r in renditions:
        lines += [f"#EXT-X-STREAM-INF:BANDWIDTH={r.bandwidth}", variant_uri(r, stream)]
    return "\n".join(lines) + "\n"


def master_directives(renditions: list[Rendition]) -> str:
    """The HTTP side's master playlist of a ladder (inside the location matching
    `/hls/<stream id>.m3u8`, its id captured as `$stream`, its root the HLS directory):
    404 until the first variant has a segment (nginx writes a media playlist with its first
    fragment), then the master itself. Answered from the config, so it is there at once
    and needs no file of its own."""
    if not renditions:
        return ""
    text = master_playlist(renditions, "${stream}").replace("\n", "\\n")
    first = variant_uri(renditions[0])
    return ("if (!-f $document_root/" + first + ") { return 404; }\n"
            "            return 200 \"" + text + "\";")


def template_values(qualities: str, rtmp_loopback: str, ffmpeg: str = "ffmpeg"
                    ) -> dict[str, str]:
    """The template's ladder placeholders: `rtmp_loopback` is how nginx reaches its own
    RTMP port (`127.0.0.1:1935`)."""
    renditions = parse_qualities(qualities)
    base = f"rtmp://{rtmp_loopback}"
    offers_source = not renditions or not renditions[0].transcoded
    return {
        # nginx-rtmp refuses two HLS writers on one path: the source's, in a ladder, has
        # a directory of its own
        "HLS_SOURCE": "on" if offers_source else "off",
        "HLS_SOURCE_SUBDIR": f"/{SOURCE_DIR}" if renditions and offers_source else "",
        "HLS_LADDER": "on" if renditions else "off",
        "LADDER_EXEC": exec_directive(renditions, f"{base}/hls", f"{base}/ladder", ffmpeg),
        "HLS_MASTER": master_directives(renditions),
    }


if __name__ == "__main__":  # the ingest image: prints shell assignments for envsubst
    import shlex

    values = template_values(sys.argv[1] if len(sys.argv) > 1 else "source",
                             sys.argv[2] if len(sys.argv) > 2 else "127.0.0.1:1935")
    for key, value in values.items():
        print(f"export {key}={shlex.quote(value)}")
