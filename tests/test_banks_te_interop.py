"""Interoperability with python-threatexchange's local_file exchange, tested against the package itself."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from threatexchange.cli.main import inner_main
from threatexchange.exchanges import fetch_state
from threatexchange.exchanges.impl.file_api import FileCollaborationConfig, LocalFileSignalExchangeAPI
from threatexchange.signal_type.md5 import VideoMD5Signal
from threatexchange.signal_type.pdq.signal import PdqSignal
from threatexchange.signal_type.sha256 import VideoSHA256Signal

from tutela.banks import BankCategory, BankFileFormat, BankStore, export_bank, import_entries, read_records
from tutela.db import Database, create_engine, upgrade
from tutela.settings import Settings
from tutela.signals import Signal


@pytest.fixture
def store(tmp_path: Path) -> BankStore:
    settings = Settings(data_dir=tmp_path / "data")
    engine = create_engine(settings)
    upgrade(engine)
    return BankStore(Database(engine), settings)


def te_fetch(path: Path, signal_type: str | None = None) -> set[tuple[str, str]]:
    """What ThreatExchange's LocalFileSignalExchangeAPI reads from `path`."""
    collab = FileCollaborationConfig(name="tutela-export", filename=str(path), signal_type=signal_type)
    api = LocalFileSignalExchangeAPI.for_collab(collab)
    signal_types = [PdqSignal, VideoMD5Signal, VideoSHA256Signal]
    return {key for delta in api.fetch_iter(signal_types, None) for key in delta.updates}


def test_tutela_imports_a_file_threatexchange_wrote(
    tmp_path: Path, store: BankStore, capsys: pytest.CaptureFixture[str]
) -> None:
    """`threatexchange hash` prints `<type> <signal>` lines: the local_file format its exchange reads."""
    photo, video = tmp_path / "photo.png", tmp_path / "clip.mp4"
    pixels = np.random.default_rng(7).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(photo)
    video.write_bytes(b"\x00\x00\x00\x18ftypmp42 not a real video, only its bytes are hashed")
    capsys.readouterr()
    for content_type, path in (("photo", photo), ("video", video)):
        inner_main(["hash", content_type, str(path)], state_dir=tmp_path / "te-state")
    te_file = tmp_path / "signals.txt"
    te_file.write_text(capsys.readouterr().out)
    written_by_te = te_fetch(te_file)
    assert {name for name, _ in written_by_te} == {"pdq", "video_md5", "video_sha256"}

    store.create_bank("partner", BankCategory.OTHER)
    with te_file.open() as lines:
        report = import_entries(store, "partner", read_records(BankFileFormat.TE_LOCAL_FILE, lines))

    assert (report.added, report.errors) == (3, [])
    imported = {(entry.signal_type, entry.value) for entry in store.iter_entries("partner")}
    assert imported == {
        ("pdq", PdqSignal.hash_from_file(photo)),
        ("md5", hashlib.md5(video.read_bytes()).hexdigest()),
        ("sha256", hashlib.sha256(video.read_bytes()).hexdigest()),
    }


def test_threatexchange_reads_a_tutela_export(tmp_path: Path, store: BankStore) -> None:
    pdq = PdqSignal.get_examples()[0]
    md5 = hashlib.md5(b"tutela").hexdigest()
    sha256 = hashlib.sha256(b"tutela").hexdigest()
    store.create_bank("own", BankCategory.OWN_CONFIRMED, exportable=True)
    for signal in (Signal("pdq", pdq), Signal("md5", md5), Signal("sha256", sha256)):
        store.add_entry("own", signal)
    store.add_entry("own", Signal("sha1", hashlib.sha1(b"tutela").hexdigest()))

    exported = tmp_path / "own.te"
    with exported.open("w") as out:
        report = export_bank(store, "own", BankFileFormat.TE_LOCAL_FILE, out)

    assert (report.written, dict(report.skipped)) == (3, {"sha1": 1})
    assert te_fetch(exported) == {("pdq", pdq), ("video_md5", md5), ("video_sha256", sha256)}
    for name, value in te_fetch(exported):
        signal_type = {"pdq": PdqSignal, "video_md5": VideoMD5Signal, "video_sha256": VideoSHA256Signal}[name]
        assert signal_type.validate_signal_str(value) == value


def test_threatexchange_reads_a_plain_export_as_a_typed_collaboration(
    tmp_path: Path, store: BankStore
) -> None:
    pdq = PdqSignal.get_examples()[0]
    store.create_bank("own", BankCategory.OWN_CONFIRMED, exportable=True)
    store.add_entry("own", Signal("pdq", pdq))
    exported = tmp_path / "own.txt"
    with exported.open("w") as out:
        export_bank(store, "own", BankFileFormat.PLAIN, out)
    assert te_fetch(exported, signal_type="pdq") == {("pdq", pdq)}


@pytest.mark.xfail(
    raises=ValueError,
    strict=True,
    reason="threatexchange 1.2's report_opinion opens the file with mode 'wta'; when this passes, "
    "write the interop file with report_opinion instead of the hash command",
)
def test_threatexchange_report_opinion_writes_a_file_tutela_reads(tmp_path: Path) -> None:
    te_file = tmp_path / "opinions.txt"
    te_file.write_text("\n")
    api = LocalFileSignalExchangeAPI.for_collab(FileCollaborationConfig(name="x", filename=str(te_file)))
    opinion = fetch_state.SignalOpinion(True, fetch_state.SignalOpinionCategory.POSITIVE_CLASS, set())
    api.report_opinion(PdqSignal, PdqSignal.get_examples()[0], opinion)
    records = list(read_records(BankFileFormat.TE_LOCAL_FILE, te_file.read_text().splitlines()))
    assert len(records) == 1
