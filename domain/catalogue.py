"""The catalogue of event types: stable names ("Stream.Started") for every stored class."""

from __future__ import annotations

from eventsourcing.domain import Aggregate
from eventsourcing.utils import get_topic

from domain.channel import Channel
from domain.chat import ChatMessage
from domain.clerk_receipt import ClerkWebhookReceipt
from domain.follow import Follow
from domain.ignore import Ignore
from domain.report import Report
from domain.stream import Stream
from domain.stream_key import StreamKeyClaim
from domain.subscription import Subscription
from domain.unique_name import UniqueName
from domain.user import User
from domain.webhook_receipt import WebhookReceipt

AGGREGATES: tuple[type[Aggregate], ...] = (User, Channel, Stream, ChatMessage, UniqueName,
                                           Follow, Subscription, ClerkWebhookReceipt,
                                           StreamKeyClaim, WebhookReceipt,  # ingest
                                           Report, Ignore)  # moderation


def _event_classes() -> dict[str, type]:
    found: dict[str, type] = {}
    for aggregate in AGGREGATES:
        own = {
            name: value
            for name, value in vars(aggregate).items()
            if isinstance(value, type) and issubclass(value, Aggregate.Event) and name != "Event"
        }
        named_creation = any(
            issubclass(cls, Aggregate.Created) for name, cls in own.items() if name != "Created"
        )
        for name, cls in own.items():
            # The library generates a field-less `Created` when the aggregate names its own.
            if name == "Created" and named_creation:
                continue
            found[cls.__qualname__] = cls
    return found


EVENT_CLASSES: dict[str, type] = _event_classes()
TOPIC_BY_TYPE: dict[str, str] = {name: get_topic(cls) for name, cls in EVENT_CLASSES.items()}
TYPE_BY_TOPIC: dict[str, str] = {topic: name for name, topic in TOPIC_BY_TYPE.items()}

# Fields that are secrets: kept in the store, never put on the bus or in exports.
SECRET_FIELDS = frozenset({"stream_key", "password_hash"})


def topics_for(types: tuple[str, ...] | list[str]) -> list[str]:
    """The stored topics of the named event types (for filtered reads of the log)."""
    return [TOPIC_BY_TYPE[t] for t in types]
