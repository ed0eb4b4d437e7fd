"""One settings object for the whole engine.

Every limit is a named setting with a default and help text, read from the environment with the `TUTELA_`
prefix (for example `TUTELA_MAX_MEDIA_BYTES=10000000`). Errors that hit a limit name the setting, so an
operator at 3 a.m. knows which knob to turn. `tests/test_docs.py` fails when a setting has no help text
or no entry in docs/settings.md.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr
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
    sqlite_busy_timeout_ms: int = Field(
        default=5_000,
        ge=0,
        description="How long a SQLite writer waits for the write lock before failing with 'database is "
        "locked'; raise it when many processes write to one SQLite file.",
    )
    sqlite_sync_commits: bool = Field(
        default=True,
        description="Sync SQLite's write-ahead log to disk after each write commits and before it is "
        "answered, so an acknowledged write survives a power loss (SQLite itself runs synchronous=NORMAL, "
        "durable against process crashes only). The sync runs after the write lock is released and is "
        "shared by concurrent commits; false saves ~2 ms of latency per write on a VM disk.",
    )
    max_media_bytes: int = Field(
        default=50 * 1024 * 1024,
        gt=0,
        description="Largest media file accepted, in bytes; larger input is refused before decoding.",
    )
    max_import_bytes: int = Field(
        default=256 * 1024 * 1024,
        gt=0,
        description="Largest hash-list file POST /v1/banks/{name}/import accepts, in bytes; the upload is "
        "read no further than this plus 64 KiB of part headers (413 past it, with or without a declared "
        "length), so a larger body is never spooled to disk in full.",
    )
    max_json_body_bytes: int = Field(
        default=1024 * 1024,
        gt=0,
        description="Largest request body other than a multipart upload (JSON bodies), in bytes; read no "
        "further than this (413 past it, with or without a declared length), since such a body is held in "
        "memory, and is read before the key is checked on most routes.",
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
    pdq_low_quality_threshold: int | None = Field(
        default=None,
        ge=0,
        le=256,
        description="PDQ threshold used when the query or the bank entry is low quality (below "
        "pdq_min_quality); unset (the default), low-quality hashes never match perceptually and flat content "
        "matches only through exact digests. Measured by bench/low_quality.py: unrelated flat images share "
        "hashes exactly (a dark grey and a near-white image), so no threshold, 0 included, keeps them apart.",
    )
    serve_host: str = Field(
        default="127.0.0.1",
        description="Address `tutela serve` listens on; 0.0.0.0 exposes it to the network.",
    )
    serve_port: int = Field(default=8310, ge=1, le=65535, description="Port `tutela serve` listens on.")
    switch_interval_ms: float = Field(
        default=0.5,
        gt=0,
        le=100,
        description="Python's thread switch interval in `tutela serve` and `tutela worker` processes "
        "(CPython's default is 5): shorter hands the GIL sooner to a thread holding the database write lock.",
    )
    serve_workers: int = Field(
        default=1,
        ge=1,
        le=64,
        description="Server processes `tutela serve` runs (its `--workers` default); each holds its own "
        "match index (about 39 bytes per PDQ entry, 103 with index_chunk_tables) and, with run_workers, "
        "its own pipeline worker, decoders and webhook deliverer.",
    )
    index_threads: int | None = Field(
        default=None,
        ge=1,
        le=256,
        description="Threads one process uses to scan the PDQ index; default: the CPU cores divided by "
        "serve_workers (at least 1), since with several server processes the processes are the parallelism "
        "and a scan split across threads costs more CPU per query.",
    )
    index_chunk_tables: bool = Field(
        default=True,
        description="Give each large part of the PDQ index (65,536 entries or more) multi-index hashing "
        "tables: 64 more bytes per PDQ entry in every server and worker process, and a single lookup at "
        "1M entries reads a few thousand of them instead of scanning all (0.2 against 1.6-2.3 ms). "
        "Lookups whose buckets are crowded (many near-identical bank hashes) scan as before.",
    )
    serve_worker_healthcheck_seconds: int = Field(
        default=60,
        ge=1,
        description="How long `tutela serve --workers N` waits for a server process to answer its "
        "supervisor's health check before killing and replacing it (uvicorn's timeout_worker_healthcheck). "
        "Start-up (imports, loading a large index) and a busy process can delay the answer; uvicorn's 5 s "
        "default replaced starting processes 7 times on a loaded 2-core machine.",
    )
    access_log: bool = Field(
        default=False,
        description="Whether `tutela serve` logs one line per request; off by default, since it costs CPU on "
        "every request and the request counters and latencies are in /metrics.",
    )
    hma_open_networks: list[str] = Field(
        default_factory=list,
        description="Networks (CIDR) allowed to call the HMA-compatible routes without an API key, for HMA "
        "set-ups behind a proxy; default none. Example: TUTELA_HMA_OPEN_NETWORKS='[\"10.0.0.0/8\"]'.",
    )
    key_cache_seconds: float = Field(
        default=5.0,
        ge=0,
        description="How long a verified API key is cached; a revoked key stops working within this time.",
    )
    index_sync_seconds: float = Field(
        default=0.1,
        gt=0,
        description="How often each process applies bank changes made by other processes to its match index.",
    )
    bank_change_retention_hours: float = Field(
        default=24.0,
        gt=0,
        description="How long the bank change log keeps a change; a process whose match index fell further "
        "behind reloads it in full.",
    )
    policy_file: Path | None = Field(
        default=None,
        description="Policy rules (YAML, docs/policy.md) the pipeline evaluates; default: the built-in pack.",
    )
    service_policy_files: dict[str, Path] = Field(
        default_factory=dict,
        description="Policy files of services that do not run policy_file, as JSON: "
        '{"kids-app": "/etc/tutela/kids.yaml"}. Every file is validated at start-up.',
    )
    wait_max_seconds: float = Field(
        default=10.0,
        gt=0,
        description="Longest a POST /v1/items?wait=true request waits for the verdict before answering 202.",
    )
    webhook_poll_seconds: float = Field(
        default=0.2,
        gt=0,
        description="How often the in-process webhook deliverer looks for due deliveries when idle.",
    )
    run_workers: bool = Field(
        default=True,
        description="Whether `tutela serve` runs pipeline workers and webhook delivery in its own process "
        "(embedded deployment); false when separate `tutela worker` processes do that work.",
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
    # Pipeline: queue, decoder pool, spool, workers (tutela.pipeline; docs/pipeline.md).
    queue_max_pending: int = Field(
        default=10_000,
        gt=0,
        description="Most jobs waiting or running (ready + leased) before POST /v1/items answers 429.",
    )
    queue_retry_after_seconds: int = Field(
        default=5,
        gt=0,
        description="Retry-After (seconds) sent with the 429 answer when the queue is over "
        "queue_max_pending.",
    )
    job_max_attempts: int = Field(
        default=3,
        gt=0,
        description="Attempts a job gets (decoder crash, timeout, worker death) before it is dead-lettered.",
    )
    job_lease_seconds: float = Field(
        default=60.0,
        gt=0,
        description="How long a worker owns a leased job; a job not finished by then is leased again.",
    )
    job_retry_backoff_seconds: float = Field(
        default=1.0,
        ge=0,
        description="Wait before a failed job's second attempt; doubles per attempt up to the maximum below.",
    )
    job_retry_backoff_max_seconds: float = Field(
        default=300.0,
        ge=0,
        description="Longest wait between two attempts of a failed job.",
    )
    decoder_processes: int = Field(
        default=2,
        gt=0,
        description="Long-lived decoder child processes per worker process (in-process workers included).",
    )
    decoder_memory_mb: int = Field(
        default=2048,
        ge=256,
        description="Address-space limit (RLIMIT_AS) of each decoder process, in MiB; a decode over it fails "
        "and the process is replaced.",
    )
    decoder_timeout_seconds: float = Field(
        default=30.0,
        gt=0,
        description="Hard limit on one extraction in a decoder process; a process over it is killed and "
        "replaced, and the job counts an attempt.",
    )
    decoder_start_timeout_seconds: float = Field(
        default=120.0,
        gt=0,
        description="Longest wait for a new decoder process to import and warm up before it counts as "
        "crashed.",
    )
    pipeline_dihedral: bool = Field(
        default=False,
        description="Also match the 7 rotated and mirrored PDQ variants of submitted images.",
    )
    spool_key: SecretStr | None = Field(
        default=None,
        description="Base64 of the 32-byte AES-256-GCM key of the content spool; default: "
        "data_dir/spool.key, created (mode 0600) on first use.",
    )
    spool_retention_hours: float = Field(
        default=72.0,
        ge=0,
        description="How long content held for review (or of a dead-lettered job) stays in the spool.",
    )
    spool_orphan_grace_seconds: float = Field(
        default=3600.0,
        gt=0,
        description="Age after which a spool file no evaluation refers to (a crash mid-submit) is deleted.",
    )
    worker_batch_size: int = Field(
        default=16,
        gt=0,
        description="Jobs a worker leases at once.",
    )
    worker_poll_seconds: float = Field(
        default=0.05,
        gt=0,
        description="How often an idle worker looks for jobs submitted by other processes.",
    )
    wait_inline: bool = Field(
        default=True,
        description="A `?wait=true` submission to the live lane is worked on the request's thread (this "
        "process's decoder pool) and stored with its verdict in one transaction, the answer being its "
        "acknowledgement; decoder failures still go through the queue. False queues it for any worker.",
    )
    wait_poll_seconds: float = Field(
        default=0.02,
        gt=0,
        description="How often `?wait=true` re-reads an evaluation finished by a worker in another process.",
    )

    # Outbound HTTP: platform webhooks (tutela.effects) and URL fetches (tutela.net).
    webhook_timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        description="Time limit of one webhook request (connect, send, wait for the answer); a timeout "
        "counts as a failed attempt.",
    )
    webhook_max_attempts: int = Field(
        default=12,
        ge=1,
        description="Attempts per webhook delivery before it becomes dead (dead letter; requeue it by hand).",
    )
    webhook_backoff_base_seconds: float = Field(
        default=10.0,
        gt=0,
        description="Wait after the first failed webhook attempt; it doubles after each further failure, "
        "with up to 50% random jitter subtracted.",
    )
    webhook_backoff_cap_seconds: float = Field(
        default=3600.0,
        gt=0,
        description="Longest wait between two attempts of one webhook delivery.",
    )
    webhook_lease_seconds: float = Field(
        default=60.0,
        gt=0,
        description="How long a deliverer holds the deliveries it claimed; after that (for example when it "
        "crashed) another deliverer takes them over. Must exceed webhook_timeout_seconds.",
    )
    webhook_batch_size: int = Field(
        default=100,
        gt=0,
        description="Most webhook deliveries one deliverer claims per round.",
    )
    webhook_concurrency: int = Field(
        default=8,
        ge=1,
        description="Most endpoints one deliverer sends to at once, one request in flight per endpoint, so "
        "that a slow or unreachable endpoint delays only its own deliveries.",
    )
    allow_private_network_targets: bool = Field(
        default=False,
        description="Allow webhook targets and fetched URLs on private, loopback, link-local and other "
        "non-public addresses. Off by default so that a URL cannot reach internal services (SSRF).",
    )
    fetch_max_bytes: int | None = Field(
        default=None,
        gt=0,
        description="Largest response body a URL fetch accepts, in bytes; default: max_media_bytes.",
    )
    fetch_timeout_seconds: float = Field(
        default=30.0,
        gt=0,
        description="Time limit of one URL fetch, redirects included.",
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
