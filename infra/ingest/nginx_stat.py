"""nginx-rtmp's statistics page (`rtmp_stat all`, XML): the bitrate a publisher has sent
so far, found by its client id (nginx's `clientid`, which its hooks post). The page names
streams by their relayed (hashed) names and clients by address, never by stream key."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import httpx

# Judged on at least this much of a publish: the first second holds the encoder's start-up
# burst (headers, the first keyframe), which no steady bitrate has.
MIN_SAMPLE_MS = 3000


class StatUnavailable(RuntimeError):
    """nginx's statistics page could not be read."""


def publisher_kbps(stat_xml: str, clientid: str, *, min_ms: int = MIN_SAMPLE_MS
                   ) -> float | None:
    """The average bitrate (kbit/s) of the stream client `clientid` publishes, or None when
    it is not publishing (any more) or has not published for `min_ms` yet."""
    try:
        root = ET.fromstring(stat_xml)
    except ET.ParseError as e:
        raise StatUnavailable(f"not nginx-rtmp's statistics: {e}") from None
    for stream in root.iter("stream"):
        publishers = [c for c in stream.findall("client")
                      if c.findtext("id") == clientid and c.find("publishing") is not None]
        if not publishers:
            continue
        time_ms = int(stream.findtext("time") or 0)
        if time_ms < min_ms:
            return None
        return int(stream.findtext("bytes_in") or 0) * 8 / time_ms
    return None


async def fetch_publisher_kbps(stat_url: str, clientid: str, timeout_s: float = 2.0
                               ) -> float | None:
    """The bitrate of a publisher, read from nginx's statistics page now."""
    try:
        async with httpx.AsyncClient(timeout=timeout_s) as client:
            r = await client.get(stat_url)
            r.raise_for_status()
    except httpx.HTTPError as e:
        raise StatUnavailable(f"{stat_url}: {e!r}") from None
    return publisher_kbps(r.text, clientid)
