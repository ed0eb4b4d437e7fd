"""One settings object for the whole engine.

Every limit is a named setting with a default and help text, read from the environment with the `TUTELA_`
prefix (for example `TUTELA_MAX_MEDIA_BYTES=10000000`). Errors that hit a limit name the setting, so an
operator at 3 a.m. knows which knob to turn. `tests/test_docs.py` fails when a setting has no help text
or no entry in docs/settings.md.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Engine settings; construct directly in tests, from the environment everywhere else."""

    model_config = SettingsConfigDict(env_prefix="TUTELA_", extra="forbid", frozen=True)

    data_dir: Path = Field(
        default=Path("var"),
        description="Directory for the SQLite database and other local state.",
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the database; default: SQLite file tutela.db in data_dir.",
    )
    max_media_bytes: int = Field(
        default=50 * 1024 * 1024,
        gt=0,
        description="Largest media file accepted, in bytes; larger input is refused before decoding.",
    )
    max_media_pixels: int = Field(
        default=100_000_000,
        gt=0,
        description="Largest image area (width x height) accepted, checked from the header before decoding "
        "so that decompression bombs are refused without allocating their pixels.",
    )
    max_media_frames: int = Field(
        default=1_000,
        gt=0,
        description="Most frames an animated image (GIF, WebP, PNG) may declare; only the first is hashed.",
    )
    max_decoded_bytes: int = Field(
        default=512 * 1024 * 1024,
        gt=0,
        description="Largest decompressed pixel buffer (width x height x bytes per pixel of the mode), "
        "checked from the header before decoding.",
    )
    max_decode_seconds: float = Field(
        default=10.0,
        gt=0,
        description="Longest time one decode may take before it is abandoned with DecodeTimeout.",
    )
    pdq_threshold: int = Field(
        default=31,
        ge=0,
        le=256,
        description="Default PDQ match threshold (Hamming distance, inclusive) for a new bank.",
    )
    pdq_min_quality: int = Field(
        default=50,
        ge=0,
        le=100,
        description="PDQ quality below which a hash is flagged as low quality (flat or near-uniform image).",
    )
    pdq_low_quality_threshold: int = Field(
        default=8,
        ge=0,
        le=256,
        description="Stricter PDQ threshold used when the query or the bank entry is low quality; "
        "measured so that unrelated flat and near-uniform images never match (tests/test_pdq_quality.py).",
    )
    scan_workers: int | None = Field(
        default=None,
        ge=1,
        description="Hashing processes for `tutela scan`; default: the number of CPU cores.",
    )
    import_batch_size: int = Field(
        default=10_000,
        gt=0,
        description="Rows written per transaction while staging a bank import.",
    )

    @property
    def resolved_database_url(self) -> str:
        """The database URL, defaulting to a SQLite file in `data_dir`."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'tutela.db'}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Settings from the environment, read once per process."""
    return Settings()
