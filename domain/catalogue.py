"""The catalogue of event types: stable names ("Stream.Started") for every stored class."""

from __future__ import annotations

from eventsourcing.domain import Aggregate
from eventsourcing.utils import get_topic

from domain.channel import Channel
from domain.chat import ChatMessage
from domain.chat_refusals import ChatRefusals
from domain.follow import Follow
from domain.ignore import Ignore
from domain.report import Report
from domain.stream import Stream
from domain.stream_key import StreamKeyClaim
from domain.subscription import Subscription
from domain.unique_name import UniqueName
from domain.user import User
from domain.webhook_attempts import WebhookAttempts
from domain.webhook_receipt import FORMER_TOPICS as _RECEIPT_FORMER_TOPICS
from domain.webhook_receipt import WebhookReceipt

AGGREGATES: tuple[type[Aggregate], ...] = (User, Channel, Stream, ChatMessage, UniqueName,
                                           Follow, Subscription, StreamKeyClaim,  # ingest
                                           WebhookReceipt,  # ingest providers' and Clerk's
                                           Report, Ignore,  # moderation
                                           WebhookAttempts,  # outbound webhooks
                                           ChatRefusals)  # analytics: the failed-send rate


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

# Topics that events of a moved or renamed class were stored under: the library resolves them
# to the class (registered where it is defined), and here they name its event type, so such
# events are read, published and filtered like those stored since.
FORMER_TOPICS: dict[str, type] = {**_RECEIPT_FORMER_TOPICS}

# Event type names older exports may hold, with the type and version their data is today:
# a Clerk receipt is a version-1 `WebhookReceipt.Received` (its upcaster knows that shape).
FORMER_TYPES: dict[str, tuple[str, int]] = {
    "ClerkWebhookReceipt.Received": ("WebhookReceipt.Received", 1)}


def _former_topics_by_type() -> dict[str, tuple[str, ...]]:
    type_of = {cls: name for name, cls in EVENT_CLASSES.items()}
    found: dict[str, tuple[str, ...]] = {}
    for topic, cls in FORMER_TOPICS.items():
        if cls in type_of:  # an aggregate class's former topic names no event type
            found[type_of[cls]] = (*found.get(type_of[cls], ()), topic)
    return found


FORMER_TOPICS_BY_TYPE: dict[str, tuple[str, ...]] = _former_topics_by_type()

TYPE_BY_TOPIC: dict[str, str] = {topic: name for name, topic in TOPIC_BY_TYPE.items()} | {
    topic: name for name, topics in FORMER_TOPICS_BY_TYPE.items() for topic in topics}

# Fields that are secrets: kept in the store, never put on the bus or in exports.
SECRET_FIELDS = frozenset({"stream_key", "password_hash", "sealed_secret", "token_hash"})


def topics_for(types: tuple[str, ...] | list[str]) -> list[str]:
    """The stored topics of the named event types (for filtered reads of the log), former
    topics included."""
    return [topic for t in types for topic in (TOPIC_BY_TYPE[t], *FORMER_TOPICS_BY_TYPE.get(t, ()))]
