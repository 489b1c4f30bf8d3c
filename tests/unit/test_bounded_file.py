"""signet.bounded_file: the one bounded read behind every configured file."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from signet.bounded_file import FileReadError, read_bounded
from signet.verifier.errors import VerifierConfigError
from signet.verifier.fetch import FetchError, JwksFetcher
from signet.verifier.trusted import read_issuers_file


def test_reads_up_to_the_limit_and_refuses_one_byte_more(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"x" * 64)
    assert read_bounded(path, 64) == b"x" * 64
    assert read_bounded(str(path), 1000) == b"x" * 64
    with pytest.raises(FileReadError, match=r"is larger than 63 bytes"):
        read_bounded(path, 63)


def test_empty_file_is_empty(tmp_path: Path) -> None:
    (tmp_path / "e").write_bytes(b"")
    assert read_bounded(tmp_path / "e", 10) == b""


def test_missing_directory_and_fifo_are_clear_errors_at_once(tmp_path: Path) -> None:
    with pytest.raises(FileReadError, match=r"cannot read '.*gone': No such file or directory"):
        read_bounded(tmp_path / "gone", 10)
    with pytest.raises(FileReadError, match=r"is not a regular file"):
        read_bounded(tmp_path, 10)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)  # without a writer, a blocking open() would never return
    with pytest.raises(FileReadError, match=r"is not a regular file"):
        read_bounded(fifo, 10)


def test_each_caller_keeps_its_own_error_type(tmp_path: Path) -> None:
    with pytest.raises(VerifierConfigError, match=r"cannot read .*: No such file"):
        read_issuers_file(str(tmp_path / "gone.toml"))
    with pytest.raises(FetchError, match=r"JWKS file: cannot read .*: No such file"):
        JwksFetcher(1.0).read_jwks_file(str(tmp_path / "gone.json"))
    big = tmp_path / "big.json"
    big.write_bytes(b" " * (512 * 1024 + 1))
    with pytest.raises(FetchError, match=r"JWKS file: .* is larger than 524288 bytes"):
        JwksFetcher(1.0).read_jwks_file(str(big))
