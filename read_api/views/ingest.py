"""Going live: stream keys, provider inputs, archived streams and the streaming config."""

from __future__ import annotations

import msgspec

from read_api.views.stream import StreamDetails, StreamRecording


class StreamKey(msgspec.Struct, rename="camel", kw_only=True):
    """Where and with what the channel's encoder publishes (owner only)."""

    channel_id: str
    stream_key: str
    ingest_url: str
    publish_url: str
    provider: str


class StreamKeyRotation(StreamKey, kw_only=True):
    """The new key, and the position of the rotation."""

    position: int


class IngestInput(msgspec.Struct, rename="camel", kw_only=True):
    """A provider's live input bound to the channel."""

    channel_id: str
    provider: str
    input_id: str
    position: int


class Vod(StreamDetails, kw_only=True):
    """An archived stream with its recordings, oldest part first (the stream's fields
    without its ingest ones, which an archived stream no longer has)."""

    recordings: list[StreamRecording]


class VodList(msgspec.Struct, rename="camel", kw_only=True):
    items: list[Vod]


class StreamingConfig(msgspec.Struct, rename="camel", kw_only=True):
    """Where encoders publish, how viewers play (`{playback_id}` in the template), the qualities."""

    provider: str
    ingest_url: str
    playback_template: str
    qualities: list[str]
    reconnect_grace_seconds: float
