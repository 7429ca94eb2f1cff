"""New aggregate ids: version-4 UUIDs like `uuid.uuid4()`'s, unique across threads and
forked processes."""

from __future__ import annotations

import os
import pickle
import threading
from uuid import UUID

from domain.ids import new_id


def test_an_id_is_a_version_4_uuid_like_any_other() -> None:
    ids = [new_id() for _ in range(2_000)]  # across several blocks of randomness
    for value in ids[:50]:
        same = UUID(str(value))
        assert value.version == 4 and value.variant == same.variant == "specified in RFC 4122"
        assert value == same and hash(value) == hash(same) and value.is_safe == same.is_safe
        assert pickle.loads(pickle.dumps(value)) == value
    assert len(set(ids)) == len(ids)
    # Random in the 122 bits that are not fixed: every bit position varies.
    varying = 0
    for value in ids:
        varying |= value.int ^ ids[0].int
    assert varying == ((1 << 128) - 1) & ~((0xF000 << 64) | (0xC000 << 48))


def test_threads_and_forked_children_never_share_ids() -> None:
    seen: list[UUID] = []
    lock = threading.Lock()

    def take() -> None:
        mine = [new_id() for _ in range(500)]
        with lock:
            seen.extend(mine)

    threads = [threading.Thread(target=take) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    new_id()  # this thread has a buffer the child inherits
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its next ids, to the parent
        os.close(read)
        os.write(write, b"".join(new_id().bytes for _ in range(100)))
        os._exit(0)
    os.close(write)
    data = b""
    while chunk := os.read(read, 4096):
        data += chunk
    os.close(read)
    os.waitpid(pid, 0)
    child = [UUID(bytes=data[i:i + 16]) for i in range(0, len(data), 16)]
    parent = [new_id() for _ in range(100)]
    assert len(child) == 100
    everything = seen + child + parent
    assert len(set(everything)) == len(everything)
