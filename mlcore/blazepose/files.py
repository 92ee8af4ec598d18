"""Locating the BlazePose .tflite files of the mediapipe 0.10.14 wheel without importing mediapipe.

mediapipe pins protobuf < 5, which breaks onnx, so it usually lives in its own
virtualenv (``.venv-mediapipe``). The two model files are plain files inside
that wheel: ``mediapipe/modules/pose_landmark/pose_landmark_full.tflite``
(BlazePose GHUM full, landmarks) and
``mediapipe/modules/pose_detection/pose_detection.tflite`` (person detector).

Search order:

1. ``$MLCORE_BLAZEPOSE_DIR``: a folder holding both files (flat), or a
   site-packages / ``mediapipe`` folder with the wheel's layout;
2. the site-packages of ``$MLCORE_MEDIAPIPE_PYTHON`` (the interpreter
   ``MediaPipePredictor`` uses): its virtualenv's ``lib/python3*/site-packages``
   found from its path, else the ``purelib`` folder that interpreter reports
   (``sysconfig``, a short child process that imports nothing else);
3. ``.venv-mediapipe`` next to the project root (the folder above this package).

When none has them, ``BlazePoseUnavailable`` (a ``FileNotFoundError``) says
where it looked, so callers can fall back to the from-scratch model.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

ENV_DIR = "MLCORE_BLAZEPOSE_DIR"
ENV_PYTHON = "MLCORE_MEDIAPIPE_PYTHON"
LANDMARK_FILE = "pose_landmark_full.tflite"
DETECTOR_FILE = "pose_detection.tflite"
_LANDMARK_REL = Path("mediapipe/modules/pose_landmark") / LANDMARK_FILE
_DETECTOR_REL = Path("mediapipe/modules/pose_detection") / DETECTOR_FILE
PROJECT_ROOT = Path(__file__).resolve().parents[2]


class BlazePoseUnavailable(FileNotFoundError):
    """The BlazePose model files were not found (mediapipe==0.10.14 is not installed anywhere we look)."""


@dataclass(frozen=True)
class BlazePoseFiles:
    """Paths of the two networks."""

    landmark: Path
    detector: Path


def _venv_site_packages(venv: Path) -> list[Path]:
    """site-packages folders of a virtualenv root (lib/pythonX.Y/site-packages, Lib/site-packages)."""
    found = sorted(venv.glob("lib/python3*/site-packages")) + sorted(venv.glob("lib64/python3*/site-packages"))
    win = venv / "Lib" / "site-packages"
    return found + ([win] if win.is_dir() else [])


def _interpreter_purelib(python: str) -> list[Path]:
    """The site-packages folder ``python`` reports, or nothing when it cannot be run."""
    try:
        out = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, timeout=20, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return []
    return [Path(out)] if out else []


def _from_folder(folder: Path) -> BlazePoseFiles | None:
    """Both files in ``folder``: flat, as a site-packages, or as the ``mediapipe`` package folder itself."""
    for landmark, detector in (
        (folder / LANDMARK_FILE, folder / DETECTOR_FILE),
        (folder / _LANDMARK_REL, folder / _DETECTOR_REL),
        (folder.parent / _LANDMARK_REL, folder.parent / _DETECTOR_REL),
    ):
        if landmark.is_file() and detector.is_file():
            return BlazePoseFiles(landmark=landmark, detector=detector)
    return None


def candidate_folders(environ: dict[str, str] | None = None, project_root: Path = PROJECT_ROOT) -> list[Path]:
    """Folders searched, in order (see the module docstring)."""
    env = os.environ if environ is None else environ
    folders: list[Path] = []
    if env.get(ENV_DIR):
        folders.append(Path(env[ENV_DIR]))
    python = env.get(ENV_PYTHON)
    if python:
        # <venv>/bin/python -> <venv>; do not resolve symlinks (they point at the base interpreter).
        folders += _venv_site_packages(Path(python).absolute().parent.parent)
    folders += _venv_site_packages(project_root / ".venv-mediapipe")
    return folders


def blazepose_files(environ: dict[str, str] | None = None, project_root: Path = PROJECT_ROOT) -> BlazePoseFiles:
    """The landmark and detector .tflite paths, or ``BlazePoseUnavailable`` naming the folders searched."""
    folders = candidate_folders(environ, project_root)
    for folder in folders:
        found = _from_folder(folder)
        if found is not None:
            return found
    python = (os.environ if environ is None else environ).get(ENV_PYTHON)
    if python:
        for folder in _interpreter_purelib(python):
            folders.append(folder)
            found = _from_folder(folder)
            if found is not None:
                return found
    searched = ", ".join(str(f) for f in folders) or "(no candidate folder exists)"
    raise BlazePoseUnavailable(
        f"BlazePose model files not found (searched: {searched}). Install mediapipe==0.10.14 into .venv-mediapipe "
        f"(pip install -r requirements-mediapipe.txt) or set {ENV_DIR} to a folder holding {LANDMARK_FILE} and "
        f"{DETECTOR_FILE}.")
