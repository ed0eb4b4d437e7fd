"""The CLI as other tools script it: JSON lines on stdout, errors as rows, exit status 0 when a scan ran."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests import malformed
from tutela.cli import app
from tutela.demo.images import TRANSFORMS, jpeg_bytes, picture
from tutela.settings import get_settings

runner = CliRunner()


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("TUTELA_DATA_DIR", str(tmp_path / "var"))
    get_settings.cache_clear()
    yield tmp_path / "var"
    get_settings.cache_clear()


def invoke(*args: str) -> list[dict[str, object]]:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]


def test_hash_prints_one_json_line_per_file_with_errors_as_rows(tmp_path: Path) -> None:
    good = tmp_path / "good.jpg"
    good.write_bytes(jpeg_bytes(picture(1, (320, 240))))
    text = tmp_path / "text.jpg"
    text.write_text("not an image")
    rows = invoke("hash", "--dihedral", str(good), str(text), str(tmp_path / "missing.png"))
    assert [row["path"] for row in rows] == [str(good), str(text), str(tmp_path / "missing.png")]
    pdq = rows[0]["pdq"]
    assert isinstance(pdq, dict)
    assert len(pdq["hash"]) == 64
    assert len(pdq["dihedral"]) == 8
    assert pdq["dihedral"][0] == pdq["hash"]
    assert pdq["variant"] == "pdq-fast/1"
    assert rows[1]["error"] == {"type": "UnsupportedMedia", "message": rows[1]["error"]["message"]}  # type: ignore[index]
    assert "md5" in rows[1]  # digests need no decoding
    assert rows[2]["error"]["type"] == "OSError"  # type: ignore[index]


def test_hash_reference_mode_reproduces_meta(tmp_path: Path) -> None:
    image = Path(__file__).parent / "data/pdq/images/bridge-mods/aaa-orig.jpg"
    rows = invoke("hash", "--pdq-mode", "reference", str(image))
    assert rows[0]["pdq"]["hash"] == (  # type: ignore[index]
        "d8f8f0cee0f4a84f0637022a078f67f0b36e2ed596621e1d33e6339c4e9c9b22"
    )


def _bank_with(tmp_path: Path, seeds: range) -> None:
    invoke("bank", "create", "known", "--category", "csam", "--exportable")
    for seed in seeds:
        path = tmp_path / f"known-{seed}.jpg"
        path.write_bytes(jpeg_bytes(picture(seed, (480, 360))))
        digest = invoke("hash", str(path))[0]["pdq"]["hash"]  # type: ignore[index]
        invoke("bank", "add", "known", str(digest), "--note", f"seed {seed}")


def test_scan_matches_copies_and_continues_past_garbage(tmp_path: Path) -> None:
    _bank_with(tmp_path, range(3))
    folder = tmp_path / "incoming"
    (folder / "nested").mkdir(parents=True)
    (folder / "a-resized.jpg").write_bytes(jpeg_bytes(TRANSFORMS["resized"](picture(0, (480, 360)))))
    (folder / "b-mirrored.jpg").write_bytes(jpeg_bytes(TRANSFORMS["mirrored"](picture(1, (480, 360)))))
    (folder / "nested" / "c-unrelated.jpg").write_bytes(jpeg_bytes(picture(99, (480, 360))))
    (folder / "d-empty.jpg").write_bytes(b"")
    (folder / "e-truncated.jpg").write_bytes(malformed.truncated(malformed.jpeg((400, 300)), 0.3))
    (folder / "f-bomb.png").write_bytes(malformed.png_header_only(100_000, 100_000))
    (folder / "g-frames.gif").write_bytes(malformed.gif_frames(10_000))
    (folder / "h-text.jpg").write_text("hello")
    (folder / "nested" / "loop").symlink_to(folder)
    for fmt in ("jsonl", "csv"):
        result = runner.invoke(app, ["scan", str(folder), "--dihedral", "--workers", "1", "--format", fmt])
        assert result.exit_code == 0, result.output
    rows = invoke("scan", str(folder), "--dihedral", "--workers", "2")
    by_name = {Path(str(row["path"])).name: row for row in rows}
    assert sorted(by_name) == [
        "a-resized.jpg", "b-mirrored.jpg", "c-unrelated.jpg", "d-empty.jpg", "e-truncated.jpg",
        "f-bomb.png", "g-frames.gif", "h-text.jpg",
    ]  # fmt: skip
    assert by_name["a-resized.jpg"]["matches"][0]["bank"] == "known"  # type: ignore[index]
    assert by_name["b-mirrored.jpg"]["matches"][0]["transform"] == "flip_left_right"  # type: ignore[index]
    assert by_name["c-unrelated.jpg"]["matches"] == []
    expected_errors = {
        "d-empty.jpg": "EmptyMedia",
        "e-truncated.jpg": "CorruptMedia",
        "f-bomb.png": "MediaTooLarge",
        "g-frames.gif": "MediaTooLarge",
        "h-text.jpg": "UnsupportedMedia",
    }
    for name, error_type in expected_errors.items():
        assert by_name[name]["error"]["type"] == error_type, by_name[name]  # type: ignore[index]


def test_scan_without_dihedral_misses_the_mirror_and_bank_filter(tmp_path: Path) -> None:
    _bank_with(tmp_path, range(2))
    copy = tmp_path / "mirrored.jpg"
    copy.write_bytes(jpeg_bytes(TRANSFORMS["mirrored"](picture(1, (480, 360)))))
    assert invoke("scan", str(copy), "--workers", "1")[0]["matches"] == []
    result = runner.invoke(app, ["scan", str(copy), "--bank", "nope"])
    assert result.exit_code != 0
    assert "unknown bank" in result.output


def test_disabled_entry_stops_matching(tmp_path: Path) -> None:
    _bank_with(tmp_path, range(1))
    copy = tmp_path / "copy.jpg"
    copy.write_bytes(jpeg_bytes(picture(0, (480, 360)), quality=70))
    entry = invoke("scan", str(copy), "--workers", "1")[0]["matches"][0]["entry"]  # type: ignore[index]
    invoke("bank", "disable", str(entry))
    assert invoke("scan", str(copy), "--workers", "1")[0]["matches"] == []
    invoke("bank", "enable", str(entry))
    assert invoke("scan", str(copy), "--workers", "1")[0]["matches"] != []


def test_bank_import_export_and_errors(tmp_path: Path) -> None:
    invoke("bank", "create", "list", "--category", "ncii")
    hashes = tmp_path / "hashes.txt"
    hashes.write_text("# a list\n" + "ab" * 32 + "\nnot-a-hash\n" + "cd" * 32 + "\n")
    result = runner.invoke(app, ["bank", "import", "list", str(hashes), "--type", "pdq"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout.splitlines()[-1]) == {
        "bank": "list", "added": 2, "duplicates": 0, "errors": 1
    }  # fmt: skip
    assert "line 3" in result.stderr
    refused = runner.invoke(app, ["bank", "export", "list"])
    assert refused.exit_code == 1
    assert "not exportable" in refused.stderr
    invoke("bank", "update", "list", "--exportable")
    exported = runner.invoke(app, ["bank", "export", "list", "--format", "plain"])
    assert exported.stdout.split() == ["ab" * 32, "cd" * 32]
    shown = json.loads(runner.invoke(app, ["bank", "show", "list"]).stdout)
    assert shown["entries"] == 2
    missing = runner.invoke(app, ["bank", "show", "nope"])
    assert missing.exit_code == 1
    assert "error:" in missing.stderr
    assert runner.invoke(app, ["bank", "delete", "list"]).exit_code != 0  # needs --yes
    invoke("bank", "delete", "list", "--yes")
    assert invoke("bank", "list", "--json") == []


def test_serve_workers_gives_uvicorn_the_health_check_timeout_setting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """uvicorn's 5 s default killed server processes still importing or loading their index under load."""
    import uvicorn

    calls: list[dict[str, object]] = []
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: calls.append(kwargs))
    monkeypatch.setenv("TUTELA_SERVE_WORKER_HEALTHCHECK_SECONDS", "90")
    get_settings.cache_clear()
    monkeypatch.setenv("TUTELA_SERVE_WORKERS", "1")  # the command sets it for its processes; restored after
    invoke("serve", "--workers", "2", "--port", "1")
    assert calls[0]["workers"] == 2
    assert calls[0]["timeout_worker_healthcheck"] == 90
