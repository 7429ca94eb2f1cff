"""The ladder of renditions named by AETHEX_INGEST_QUALITIES: parsed, refused when it does
not hold, and turned into nginx-rtmp's exec (one ffmpeg, every transcoded rendition) and the
master playlist nginx's HTTP side answers; and the bitrate limit a publisher is held to when
it is refused above it."""

from __future__ import annotations

import pytest

from infra.ingest.ladder import Rendition, master_playlist, parse_qualities, template_values
from infra.ingest.nginx_rtmp import free_port
from infra.ingest.nginx_stat import StatUnavailable, fetch_publisher_kbps, publisher_kbps
from infra.settings import SettingsError, load_settings


def test_source_means_no_transcoding() -> None:
    assert parse_qualities("source") == [] and parse_qualities(" ") == []
    assert template_values("source", "127.0.0.1:1935") == {
        "HLS_SOURCE": "on", "HLS_SOURCE_SUBDIR": "", "HLS_LADDER": "off", "LADDER_EXEC": "",
        "HLS_MASTER": ""}


def test_renditions_take_the_plans_bitrates_or_their_own_highest_first() -> None:
    assert parse_qualities("480p,1080p,720p") == [
        Rendition(1080, 8000), Rendition(720, 5000), Rendition(480, 2500)]
    assert parse_qualities("240p:300, 360P") == [Rendition(360, 1000), Rendition(240, 300)]


def test_the_source_may_top_a_ladder_at_the_plans_top_bitrate_or_its_own() -> None:
    assert parse_qualities("360p:800,source,240p:400") == [
        Rendition(None, 8000), Rendition(360, 800), Rendition(240, 400)]
    assert [r.name for r in parse_qualities("SOURCE:6000, 480p")] == ["source", "480p"]
    assert parse_qualities("source:6000,480p")[0].bandwidth == 6_096_000


@pytest.mark.parametrize("bad", ["720", "720p:x", "721p", "4000p", "500p", "720p,720p:10",
                                 "hd", "source:6000", "source,source:900,720p", "src,720p"])
def test_a_ladder_that_does_not_hold_is_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        parse_qualities(bad)


def test_one_ffmpeg_encodes_every_rung_with_keyframes_on_the_fragment() -> None:
    values = template_values("360p,240p:300", "127.0.0.1:1935", ffmpeg="/usr/bin/ffmpeg")
    assert (values["HLS_SOURCE"], values["HLS_LADDER"]) == ("off", "on")
    line = values["LADDER_EXEC"]
    assert line.startswith("exec /usr/bin/ffmpeg ") and line.endswith(";")
    assert line.count(" -i ") == 1 and "-i rtmp://127.0.0.1:1935/hls/$name " in line
    # the probe ends with the first keyframe, however far apart the encoder puts them
    assert "-fpsprobesize 0 " in line and "-analyzeduration" not in line
    assert "scale=-2:360" in line and "-b:v 1000k" in line and "-maxrate 300k" in line
    assert line.index("ladder/$name_360p") < line.index("ladder/$name_240p")
    assert '"expr:gte(t,n_forced*1)"' in line
    # nginx's HTTP side answers the master once the top variant has a segment
    assert values["HLS_MASTER"] == (
        "if (!-f $document_root/${stream}_360p.m3u8) { return 404; }\n"
        '            return 200 "#EXTM3U\\n#EXT-X-VERSION:3\\n'
        "#EXT-X-STREAM-INF:BANDWIDTH=1096000\\n${stream}_360p.m3u8\\n"
        '#EXT-X-STREAM-INF:BANDWIDTH=396000\\n${stream}_240p.m3u8\\n";')


def test_the_source_on_top_is_written_by_nginx_beside_the_transcoded_ones() -> None:
    """nginx writes the source's HLS itself (in a directory of its own: nginx-rtmp refuses
    two HLS writers on one path); ffmpeg encodes only the transcoded renditions; the master
    lists the source first and is there once the source has a segment."""
    values = template_values("source:6000,360p,240p:300", "127.0.0.1:1935")
    assert (values["HLS_SOURCE"], values["HLS_SOURCE_SUBDIR"], values["HLS_LADDER"]) == (
        "on", "/source", "on")
    line = values["LADDER_EXEC"]
    assert "ladder/$name_360p" in line and "ladder/$name_240p" in line
    assert "source" not in line and line.count("libx264") == 2
    assert values["HLS_MASTER"].startswith(
        "if (!-f $document_root/source/${stream}.m3u8) { return 404; }")
    ladder = parse_qualities("source:6000,360p,240p:300")
    assert master_playlist(ladder, "abc-1") == (
        "#EXTM3U\n#EXT-X-VERSION:3\n"
        "#EXT-X-STREAM-INF:BANDWIDTH=6096000\nsource/abc-1.m3u8\n"
        "#EXT-X-STREAM-INF:BANDWIDTH=1096000\nabc-1_360p.m3u8\n"
        "#EXT-X-STREAM-INF:BANDWIDTH=396000\nabc-1_240p.m3u8\n")


STAT = """<rtmp><server><application><name>live</name><live>
<stream><name>e08c888ef56ab8b74990dc97985f46d6</name><time>{time}</time><bw_in>0</bw_in>
<bytes_in>{bytes}</bytes_in>
<client><id>5</id><address>127.0.0.1:60149/hls/sid1</address><time>2062</time>
<flashver>ngx-local-relay</flashver><active/></client>
<client><id>3</id><address>127.0.0.1</address><time>2275</time>
<flashver>FMLE/3.0 (compatible; Lavf59.27</flashver><publishing/><active/></client>
<publishing/><active/></stream></live></application></server></rtmp>"""


def test_a_publishers_bitrate_is_read_from_nginx_statistics_by_its_client_id() -> None:
    """The shape nginx-rtmp's `rtmp_stat all` page has (taken from a real nginx here)."""
    page = STAT.format(time=4000, bytes=750_000)
    assert publisher_kbps(page, "3") == 1500.0
    assert publisher_kbps(page, "5") is None  # the relay plays, it does not publish
    assert publisher_kbps(page, "9") is None  # gone
    assert publisher_kbps(STAT.format(time=2000, bytes=1), "3") is None  # too early to say


def test_refusing_needs_the_statistics_and_a_limit() -> None:
    with pytest.raises(SettingsError, match="STAT_URL"):
        load_settings({}, ingest_over_bitrate="refuse", ingest_qualities="360p")
    with pytest.raises(SettingsError, match="a limit"):
        load_settings({}, ingest_over_bitrate="refuse", ingest_nginx_stat_url="http://x/stat")
    settings = load_settings({}, ingest_over_bitrate="refuse", ingest_qualities="360p,240p",
                             ingest_nginx_stat_url="http://x/stat")
    assert settings.max_ingest_kbps() == 2.0 * 1096  # twice the top rendition, audio included
    assert load_settings({}, ingest_max_bitrate_kbps=900).max_ingest_kbps() == 900
    assert load_settings({}).max_ingest_kbps() is None  # source: nothing to compare with
    # the source on top of a ladder: what it announces is what encoders are held to
    assert load_settings({}, ingest_qualities="source:3000,360p").max_ingest_kbps() == (
        2.0 * 3096)
    with pytest.raises(SettingsError, match="QUALITIES"):
        load_settings({}, ingest_qualities="hd")


async def test_statistics_that_cannot_be_read_are_told_apart() -> None:
    with pytest.raises(StatUnavailable):
        publisher_kbps("<html>not the stat page", "3")
    with pytest.raises(StatUnavailable):  # nothing listens there
        await fetch_publisher_kbps(f"http://127.0.0.1:{free_port()}/stat", "3", timeout_s=1)
