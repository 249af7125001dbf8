"""The wheel carries the model: built from this checkout, installed into a fresh venv outside it,
``nlp-guard check`` run from another directory reports the shipped model's version.

Offline and quick: the wheel is built with ``--no-build-isolation`` (the test venv's setuptools), and
the fresh venv (no system site-packages) reaches the already installed dependencies through a .pth
line. A .pth line adds a directory but does not run the .pth files inside it, so the test venv's
editable install of nlp_guard stays inert: nlp_guard and its model come from the wheel alone.
"""
from __future__ import annotations

import json
import os
import shutil
import site
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

ROOT = Path(__file__).resolve().parents[1]
BUILD_INPUTS = ("pyproject.toml", "setup.py", "README.md", "nlp_guard", "api", "models")
THREAT = "听说你家孩子在实验小学上学，每天几点放学我们都清楚，你看着办吧"


def _run(args: list[str], **kw: object) -> subprocess.CompletedProcess[str]:
    p = subprocess.run(args, capture_output=True, text=True, timeout=240, **kw)  # type: ignore[call-overload]
    assert p.returncode == 0, f"{args[:4]} failed:\n{p.stdout[-2000:]}\n{p.stderr[-2000:]}"
    return p


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with only the wheel installed; returns its bin folder."""
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"  # a copy, so no build/ or egg-info leftovers of the checkout reach the wheel
    src.mkdir()
    for name in BUILD_INPUTS:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(ROOT / name, src / name)
    _run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "--no-index",
          "-w", str(tmp / "dist"), str(src)])
    (wheel,) = (tmp / "dist").glob("nlp_guard-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {f"nlp_guard_models/nlp_guard-zh/{f}" for f in ("model.onnx", "tokenizer.json", "config.json")} <= names
    assert wheel.stat().st_size < 120 * 2**20

    venv = tmp / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)])
    py = venv / "bin" / "python"
    purelib = Path(_run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).stdout.strip())
    (purelib / "_deps_from_test_venv.pth").write_text("\n".join(site.getsitepackages()) + "\n", "utf-8")
    _run([sys.executable, "-m", "pip", "--python", str(py), "install", "-q", "--no-deps", "--no-index", str(wheel)])
    return venv / "bin"


def _env() -> dict[str, str]:
    drop = {"PYTHONPATH", "NLP_GUARD_MODEL_DIR", "NLP_GUARD_RULES_ONLY"}
    return {k: v for k, v in os.environ.items() if k not in drop}


def test_installed_wheel_finds_its_own_model(installed: Path, tmp_path: Path) -> None:
    code = ("import nlp_guard, nlp_guard.model as m; print(nlp_guard.__file__); print(m.find_model_dir()); "
            "print(m.shipped_model_dirs())")
    out = _run([str(installed / "python"), "-c", code], cwd=tmp_path, env=_env()).stdout.splitlines()
    venv = installed.parent.resolve()
    package, model_dir = Path(out[0]).resolve(), Path(out[1])
    assert venv in package.parents and ROOT not in package.parents
    assert venv in model_dir.parents and model_dir.parts[-2:] == ("nlp_guard_models", "nlp_guard-zh")
    assert str(ROOT) not in out[2]  # no checkout to look in


def test_nlp_guard_check_from_elsewhere_reports_the_model_version(installed: Path, tmp_path: Path) -> None:
    expected = json.loads((ROOT / "models" / "nlp_guard-zh" / "config.json").read_text("utf-8"))["version"]
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    exe = str(installed / "nlp-guard")
    d = json.loads(_run([exe, "check", "--json", THREAT], cwd=elsewhere, env=_env()).stdout)
    assert d["model_version"] == expected and d["decision"] == "block"
    human = _run([exe, "check", THREAT], cwd=elsewhere, env=_env()).stdout
    assert "BLOCK" in human and f"model {expected} · policy " in human
    assert "serve" in _run([exe, "--help"], cwd=elsewhere, env=_env()).stdout  # the service's commands load too
