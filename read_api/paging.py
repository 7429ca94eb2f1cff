"""The one paging convention of the API: `cursor` and `limit` in, `{"items": [...],
"nextCursor": ...}` out, newest first. A cursor is the position of the last item of the
page before (pass `nextCursor` back as it is); `limit` is 1-100 on every route.

Routes declare the parameters with these annotations, so the bounds are checked (and an
out-of-range or non-integer value answered 422 naming the parameter) and documented the
same way everywhere:

    cursor: Cursor = None, before: Before = None, limit: Limit = 50
    ...
    items, next_cursor = await reads.query(fn, ..., before=page_cursor(cursor, before))
"""

from __future__ import annotations

from typing import Annotated

from litestar.params import QueryParameter

from domain.errors import Invalid

Cursor = Annotated[int | None, QueryParameter(
    ge=1, description="`nextCursor` of the previous page; absent: the newest page")]
# Chat history, the moderation log and reports named their cursor `before` first: clients
# that still send it keep working, and the schema tells them to move on.
Before = Annotated[int | None, QueryParameter(
    ge=1, description="Deprecated: the old name of `cursor`, still accepted",
    schema_extra={"deprecated": True})]
Limit = Annotated[int, QueryParameter(ge=1, le=100, description="items per page, 1-100")]


def page_cursor(cursor: int | None, before: int | None) -> int | None:
    """The cursor a request gave, under its name or the deprecated one (not two
    different ones)."""
    if cursor is not None and before is not None and cursor != before:
        raise Invalid("give the page's cursor once, as `cursor` (`before` is its old name)",
                      field="cursor")
    return cursor if cursor is not None else before
