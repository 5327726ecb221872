"""Reading a small named file: bounded, regular files only, a FIFO never waited on."""

from __future__ import annotations

import os

import pytest

from ime_wire.files import FileRefused, FileTooLarge, read_small


def test_a_small_regular_file_is_read_up_to_its_limit(tmp_path):
    (tmp_path / "ok").write_bytes(b"x" * 1024)
    assert read_small(tmp_path / "ok", 1024) == b"x" * 1024
    with pytest.raises(FileTooLarge, match="is over 1,023 bytes"):
        read_small(tmp_path / "ok", 1023)
    (tmp_path / "big").write_bytes(b" " * (2**20 + 1))
    with pytest.raises(FileTooLarge, match="is over 1 MiB"):
        read_small(tmp_path / "big", 2**20)


def test_devices_directories_and_fifos_are_refused_unread(tmp_path):
    os.mkfifo(tmp_path / "fifo")  # nobody writes to it: opening it for reading must not wait
    (tmp_path / "link").symlink_to("/dev/zero")
    for path in ("/dev/zero", tmp_path, tmp_path / "fifo", tmp_path / "link"):
        with pytest.raises(FileRefused, match="is not a regular file"):
            read_small(path, 256 * 1024)
    with pytest.raises(FileNotFoundError):
        read_small(tmp_path / "missing", 10)
