"""mlcore.files.atomic_path: the target appears whole or not at all."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from mlcore.coco import load_coco, save_coco
from mlcore.files import atomic_path


def test_success_replaces_target(tmp_path: Path) -> None:
    target = tmp_path / "model.json"
    target.write_text("old")
    with atomic_path(target) as tmp:
        assert tmp.parent == tmp_path
        assert tmp != target
        assert tmp.is_file() and tmp.read_text() == ""
        tmp.write_text("new")
        assert target.read_text() == "old"   # untouched until the block ends
    assert target.read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.json"]


def test_failure_leaves_no_file_and_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "out" / "model.pt"
    with pytest.raises(RuntimeError, match="half written"):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("half written")
    assert not target.exists()
    assert list((tmp_path / "out").iterdir()) == []


def test_failure_keeps_the_old_target(tmp_path: Path) -> None:
    target = tmp_path / "last.pt"
    target.write_text("epoch 3")
    with pytest.raises(KeyboardInterrupt):
        with atomic_path(target) as tmp:
            tmp.write_text("epoch 4, half")
            raise KeyboardInterrupt
    assert target.read_text() == "epoch 3"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.pt"]


def test_writer_may_replace_the_temporary_file(tmp_path: Path) -> None:
    # Exporters (torch.onnx, onnxruntime's quantiser) open the path themselves and rewrite it.
    target = tmp_path / "model.onnx"
    with atomic_path(target) as tmp:
        tmp.unlink()
        tmp.write_bytes(b"onnx")
    assert target.read_bytes() == b"onnx"


def test_temporary_names_are_unique(tmp_path: Path) -> None:
    target = tmp_path / "a.json"
    with atomic_path(target) as first, atomic_path(target) as second:
        assert first != second
        first.write_text("1")
        second.write_text("2")
    assert target.read_text() == "1"   # the outer block finishes last
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json"]


def test_temporary_file_gets_ordinary_permissions(tmp_path: Path) -> None:
    umask = os.umask(0o022)
    try:
        with atomic_path(tmp_path / "x.bin") as tmp:
            mode = stat.S_IMODE(tmp.stat().st_mode)
    finally:
        os.umask(umask)
    assert mode == 0o644


def test_save_coco_is_atomic_and_readable(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "data.json"
    save_coco({"images": [], "annotations": []}, target)
    assert load_coco(target) == {"images": [], "annotations": []}
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
    with pytest.raises(TypeError):
        save_coco({"bad": object()}, target)      # not JSON: the old file stays, no temporary is left
    assert load_coco(target) == {"images": [], "annotations": []}
    assert [p.name for p in target.parent.iterdir()] == ["data.json"]
