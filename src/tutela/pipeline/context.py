"""What a platform tells Tutela about an item besides its content: where it was posted, by whom, where."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from tutela.pipeline.errors import InvalidSubmission

_COUNTRY = re.compile(r"[A-Z]{2}")
_AGE_BAND = re.compile(r"[a-z0-9_+-]{1,16}")


class Surface(StrEnum):
    """Where on the platform the content appears; values are storage keys and never change."""

    PUBLIC_POST = "public_post"
    PROFILE = "profile"
    COMMENT = "comment"
    PRIVATE_MESSAGE = "private_message"
    GROUP_MESSAGE = "group_message"
    STORY = "story"
    LIVE_STREAM = "live_stream"
    AD = "ad"
    OTHER = "other"


class Lane(StrEnum):
    """Queue lanes: live uploads are leased before backfills (lower priority number first)."""

    LIVE = "live"
    BACKFILL = "backfill"

    @property
    def priority(self) -> int:
        return _PRIORITY[self]


_PRIORITY = {Lane.LIVE: 0, Lane.BACKFILL: 100}


@dataclass(frozen=True, slots=True)
class ItemContext:
    """Context of one submission. `jurisdiction` is an ISO 3166-1 alpha-2 country code (upper case)."""

    surface: Surface
    jurisdiction: str | None = None
    account_id: str | None = None
    age_band: str | None = None

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "surface", Surface(self.surface))
        except ValueError:
            known = ", ".join(s.value for s in Surface)
            raise InvalidSubmission(f"unknown surface {self.surface!r}; known: {known}") from None
        if self.jurisdiction is not None and not _COUNTRY.fullmatch(self.jurisdiction):
            raise InvalidSubmission(
                f"jurisdiction must be an ISO 3166-1 alpha-2 code such as 'DE', got {self.jurisdiction!r}"
            )
        if self.age_band is not None and not _AGE_BAND.fullmatch(self.age_band):
            raise InvalidSubmission(
                f"age band must be a short lower-case token such as '13_15', got {self.age_band!r}"
            )
        if self.account_id is not None and len(self.account_id) > 255:
            raise InvalidSubmission(f"account id is {len(self.account_id)} characters; the limit is 255")
