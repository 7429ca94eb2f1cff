"""Every projection the service runs, by name."""

from __future__ import annotations

from projections.base import Projection
from projections.categories import Categories
from projections.channel_directory import ChannelDirectory
from projections.channel_page import ChannelPage
from projections.chat_history import ChatHistory
from projections.follows import Follows
from projections.ignores import Ignores
from projections.moderation_log import ModerationLog
from projections.reports import Reports
from projections.stream_directory import StreamDirectory
from projections.stream_status import StreamStatusProjection
from projections.subscriptions import Subscriptions
from projections.users import Users
from projections.webhook_deliveries import WebhookDeliveries


def all_projections() -> list[Projection]:
    return [Users(), ChannelPage(), StreamStatusProjection(), ChatHistory(), Follows(),
            Subscriptions(), ModerationLog(), Reports(), Ignores(),
            ChannelDirectory(), StreamDirectory(), Categories(),  # discovery
            WebhookDeliveries()]
