"""Where the next page is: `x-soracom-next-key`, or a `link: <...>; rel=next` header.

The cursor is opaque; it goes back as the `last_evaluated_key` query parameter. With a
`link` header the whole query of the linked URL is used, so parameters the server put
there (limit, from, to, ...) travel along unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlsplit

NEXT_KEY_HEADER = "x-soracom-next-key"
CURSOR_PARAM = "last_evaluated_key"

_LINK_PART = re.compile(r"<([^>]*)>\s*((?:;\s*[^;,]+)*)")
_REL = re.compile(r"""rel\s*=\s*"?([^";]+)"?""", re.IGNORECASE)


@dataclass(frozen=True)
class NextPage:
    """The cursor (identity of the next page) and the query parameters to fetch it."""

    cursor: str
    params: dict[str, str]


def next_link(link_header: str) -> str | None:
    """The URL of the `rel=next` entry of an RFC 8288 `link` header."""
    for match in _LINK_PART.finditer(link_header):
        rel = _REL.search(match.group(2) or "")
        if rel and "next" in rel.group(1).lower().split():
            return match.group(1).strip()
    return None


def next_page(headers: Mapping[str, str], params: Mapping[str, object]) -> NextPage | None:
    """Parameters for the page after the one that came with `headers`, or None at the end."""
    key = headers.get(NEXT_KEY_HEADER)
    if key:
        merged = {k: str(v) for k, v in params.items() if v is not None}
        merged[CURSOR_PARAM] = key
        return NextPage(key, merged)
    link = headers.get("link")
    url = next_link(link) if link else None
    if url:
        query = dict(parse_qsl(urlsplit(url).query, keep_blank_values=True))
        cursor = query.get(CURSOR_PARAM) or url
        merged = {k: str(v) for k, v in params.items() if v is not None}
        merged.update(query)
        return NextPage(cursor, merged)
    return None
