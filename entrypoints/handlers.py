"""Every command's handler, registered once on the command bus with what it needs: the
one place a reader finds which function runs a command."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any
from uuid import UUID

from commands.ban_user import BanUser, RecentMessages, RemoveMessages, ban_user, remove_messages
from commands.bind_ingest_input import BindIngestInput, bind_ingest_input
from commands.bot_tokens import (
    IssueBotToken,
    RevokeBotToken,
    issue_bot_token,
    revoke_bot_token,
)
from commands.bus import CommandBus
from commands.cancel_subscription import CancelSubscription, cancel_subscription
from commands.change_stream_status import ChangeStreamStatus, change_stream_status
from commands.create_channel import CreateChannel, create_channel
from commands.create_stream import CreateStream, create_stream
from commands.delete_message import DeleteMessage, delete_message
from commands.end_stream import EndStream, end_stream
from commands.follow import FollowTarget, follow
from commands.go_live import GoLive, go_live
from commands.grant_moderator import GrantModerator, grant_moderator
from commands.ignore_user import IgnoreUser, ignore_user
from commands.ingest_connected import IngestConnected, ingest_connected
from commands.ingest_disconnected import IngestDisconnected, ingest_disconnected
from commands.ingest_lifecycle import ApplySignal, IngestLifecycle, apply_signal
from commands.onboard_user import OnboardUser, onboard_user
from commands.ports import PasswordHasher, SecretBox, Store
from commands.refuse_ingest import RefuseIngest, refuse_ingest
from commands.register_user import RegisterUser, register_user
from commands.report import FileReport, file_report
from commands.resolve_report import ResolveReport, resolve_report
from commands.revoke_moderator import RevokeModerator, revoke_moderator
from commands.rotate_stream_key import RotateStreamKey, rotate_stream_key
from commands.sample_viewer_count import SampleViewerCount, sample_viewer_count
from commands.send_message import SendMessage
from commands.set_channel_filters import SetChannelFilters, set_channel_filters
from commands.set_channel_image import SetChannelImage, set_channel_image
from commands.set_profile_image import SetProfileImage, set_profile_image
from commands.settle_subscription import SettleSubscription, settle_subscription
from commands.store_recording import StoreRecording, store_recording
from commands.subscribe import Subscribe, subscribe
from commands.sync_external_user import SyncExternalUser, sync_external_user
from commands.unban_user import UnbanUser, unban_user
from commands.unfollow import UnfollowTarget, unfollow
from commands.update_channel import UpdateChannel, update_channel
from commands.update_profile import UpdateProfile, update_profile
from commands.webhooks import (
    ChangeWebhook,
    CreateWebhook,
    DeleteWebhook,
    DisableWebhook,
    PingWebhook,
    RedeliverWebhook,
    RotateWebhookSecret,
    WebhookRules,
    change_webhook,
    create_webhook,
    delete_webhook,
    disable_webhook,
    ping_webhook,
    redeliver_webhook,
    rotate_webhook_secret,
)
from infra.readstore.database import Database
from projections.chat_history import recent_message_ids


def command_bus(store: Store, hasher: PasswordHasher,
                send: Callable[[SendMessage], Awaitable[Any]], recent: RecentMessages,
                ingest: IngestLifecycle,
                on_command: Callable[[str], None] | None = None, *,
                box: SecretBox, webhook_rules: WebhookRules) -> CommandBus:
    """The bus; chat messages go to `send` (the group commit), providers' notifications to
    the ingest lifecycle, the rest to their handler; a ban finds the user's recent
    messages with `recent`."""
    bus = CommandBus(on_command=on_command)
    bus.register(SendMessage, send)
    bus.register(ApplySignal, apply_signal, ingest)
    bus.register(BanUser, ban_user, store, recent)
    bus.register(BindIngestInput, bind_ingest_input, store)
    bus.register(CancelSubscription, cancel_subscription, store)
    bus.register(ChangeStreamStatus, change_stream_status, store)
    bus.register(CreateChannel, create_channel, store)
    bus.register(CreateStream, create_stream, store)
    bus.register(DeleteMessage, delete_message, store)
    bus.register(EndStream, end_stream, store)
    bus.register(FileReport, file_report, store)
    bus.register(FollowTarget, follow, store)
    bus.register(GoLive, go_live, store)
    bus.register(GrantModerator, grant_moderator, store)
    bus.register(IgnoreUser, ignore_user, store)
    bus.register(IngestConnected, ingest_connected, store)
    bus.register(IngestDisconnected, ingest_disconnected, store)
    bus.register(RefuseIngest, refuse_ingest, store)
    bus.register(OnboardUser, onboard_user, store)
    bus.register(RegisterUser, register_user, store, hasher)
    bus.register(RemoveMessages, remove_messages, store)
    bus.register(ResolveReport, resolve_report, store)
    bus.register(RevokeModerator, revoke_moderator, store)
    bus.register(RotateStreamKey, rotate_stream_key, store)
    bus.register(SampleViewerCount, sample_viewer_count, store)
    bus.register(SetChannelFilters, set_channel_filters, store)
    bus.register(SetChannelImage, set_channel_image, store)
    bus.register(SetProfileImage, set_profile_image, store)
    bus.register(SettleSubscription, settle_subscription, store)
    bus.register(StoreRecording, store_recording, store)
    bus.register(Subscribe, subscribe, store)
    bus.register(SyncExternalUser, sync_external_user, store)
    bus.register(UnbanUser, unban_user, store)
    bus.register(UnfollowTarget, unfollow, store)
    bus.register(UpdateChannel, update_channel, store)
    bus.register(UpdateProfile, update_profile, store)
    # integrations: outbound webhooks (secrets sealed by `box`) and bot tokens
    bus.register(CreateWebhook, create_webhook, store, box, webhook_rules)
    bus.register(ChangeWebhook, change_webhook, store, webhook_rules)
    bus.register(RotateWebhookSecret, rotate_webhook_secret, store, box)
    bus.register(DeleteWebhook, delete_webhook, store)
    bus.register(DisableWebhook, disable_webhook, store)
    bus.register(PingWebhook, ping_webhook, store)
    bus.register(RedeliverWebhook, redeliver_webhook, store)
    bus.register(IssueBotToken, issue_bot_token, store)
    bus.register(RevokeBotToken, revoke_bot_token, store)
    return bus


def caught_up_recent(db: Database, position_of: Callable[[], int], head: Callable[[], int],
                     wait_s: float) -> RecentMessages:
    """A ban's view of the user's recent messages: the chat history once it has reached the
    event log's head as of the call (waiting up to `wait_s`; then as far as it got)."""
    def recent(stream_id: UUID, user_id: UUID, since: datetime) -> list[UUID]:
        target, deadline = head(), time.monotonic() + wait_s
        while position_of() < target and time.monotonic() < deadline:
            time.sleep(0.005)
        return recent_message_ids(db, str(stream_id), str(user_id), since.isoformat())

    return recent
