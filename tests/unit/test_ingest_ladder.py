"""The ladder of renditions named by AETHEX_INGEST_QUALITIES: parsed, refused when it does
not hold, and turned into nginx-rtmp's exec (one ffmpeg, every rendition) and hls_variant
lines; and the bitrate limit a publisher is held to when it is refused above it."""

from __future__ import annotations

import pytest

from infra.ingest.ladder import Rendition, parse_qualities, template_values
from infra.ingest.nginx_rtmp import free_port
from infra.ingest.nginx_stat import StatUnavailable, fetch_publisher_kbps, publisher_kbps
from infra.settings import SettingsError, load_settings


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
    with pytest.raises(SettingsError, match="QUALITIES"):
        load_settings({}, ingest_qualities="hd")


async def test_statistics_that_cannot_be_read_are_told_apart() -> None:
    with pytest.raises(StatUnavailable):
        publisher_kbps("<html>not the stat page", "3")
    with pytest.raises(StatUnavailable):  # nothing listens there
        await fetch_publisher_kbps(f"http://127.0.0.1:{free_port()}/stat", "3", timeout_s=1)
