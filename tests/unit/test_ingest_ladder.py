"""The ladder of renditions named by AETHEX_INGEST_QUALITIES: parsed, refused when it does
not hold, and turned into nginx-rtmp's exec (one ffmpeg, every rendition) and hls_variant
lines."""

from __future__ import annotations

import pytest

from infra.ingest.ladder import Rendition, parse_qualities, template_values


def test_source_means_no_transcoding() -> None:
    assert parse_qualities("source") == [] and parse_qualities(" ") == []
    assert template_values("source", "127.0.0.1:1935") == {
        "HLS_SOURCE": "on", "HLS_LADDER": "off", "LADDER_EXEC": "", "LADDER_VARIANTS": ""}


def test_renditions_take_the_plans_bitrates_or_their_own_highest_first() -> None:
    assert parse_qualities("480p,1080p,720p") == [
        Rendition(1080, 8000), Rendition(720, 5000), Rendition(480, 2500)]
    assert parse_qualities("240p:300, 360P") == [Rendition(360, 1000), Rendition(240, 300)]


@pytest.mark.parametrize("bad", ["720", "720p:x", "721p", "4000p", "500p", "720p,720p:10",
                                 "source,720p", "hd"])
def test_a_ladder_that_does_not_hold_is_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        parse_qualities(bad)


def test_one_ffmpeg_encodes_every_rung_with_keyframes_on_the_fragment() -> None:
    values = template_values("360p,240p:300", "127.0.0.1:1935", ffmpeg="/usr/bin/ffmpeg")
    assert (values["HLS_SOURCE"], values["HLS_LADDER"]) == ("off", "on")
    line = values["LADDER_EXEC"]
    assert line.startswith("exec /usr/bin/ffmpeg ") and line.endswith(";")
    assert line.count(" -i ") == 1 and "-i rtmp://127.0.0.1:1935/hls/$name " in line
    assert "scale=-2:360" in line and "-b:v 1000k" in line and "-maxrate 300k" in line
    assert line.index("ladder/$name_360p") < line.index("ladder/$name_240p")
    assert '"expr:gte(t,n_forced*1)"' in line
    assert values["LADDER_VARIANTS"].split() == [
        "hls_variant", "_360p", "BANDWIDTH=1096000;", "hls_variant", "_240p",
        "BANDWIDTH=396000;"]
