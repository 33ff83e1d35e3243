"""A non-editable install works from any directory (DESIGN.md section 8).

Builds the wheel from a copy of the source tree, installs it with ``--no-deps`` into a fresh
virtual environment, and runs the `lnsmadam` console script from a temporary working
directory.  The dependencies come from this project's virtual environment through one
``.pth`` line added *after* the install (re-installing numpy, Numba, Amaranth... would take
minutes); the project itself comes only from the wheel, which the test checks.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("lns", "python_ref", "rtl", "sim", "testbench")
# Top-level entries of the checkout that are not part of the build: environments, caches,
# outputs, earlier builds.
_NOT_SOURCE = {".venv", ".git", ".cache", ".pytest_cache", "build", "dist", "report", "out",
               "tests", "benchmarks"}


def _source_packages() -> set[str]:
    """Every package of the checkout, as a dotted name."""
    found = set()
    for top in PACKAGES:
        for init in (ROOT / top).rglob("__init__.py"):
            if "__pycache__" not in init.parts:
                found.add(".".join(init.parent.relative_to(ROOT).parts))
    return found


def _copy_source(dest: Path) -> Path:
    """A clean copy of the checkout, so the build sees only source files."""
    def ignore(folder, names):
        skip = {n for n in names if n == "__pycache__" or n.endswith(".egg-info")
                or n.endswith((".pyc", ".nbi", ".nbc"))}
        if Path(folder).resolve() == ROOT:
            skip |= _NOT_SOURCE & set(names)
        return skip
    shutil.copytree(ROOT, dest, ignore=ignore)
    return dest


def _backend_ok() -> bool:
    """True when this interpreter has the build backend (hatchling, in the test extra), so
    the wheel builds without fetching anything."""
    try:
        import hatchling  # noqa: F401
    except ImportError:
        return False
    return True


def _build_wheel(src: Path, out: Path) -> Path:
    # Offline when this environment has the backend; otherwise pip's ordinary isolated build
    # (fetches hatchling from the configured index, as `pip install .` does).
    cmd = [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(src)]
    if _backend_ok():
        cmd.insert(4, "--no-build-isolation")
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    wheels = sorted(out.glob("lnsmadam-*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


def _installed_files(site: Path) -> set[str]:
    """Files of the site-packages folder but those under ``__pycache__/`` (Python's bytecode
    and Numba's ``cache=True`` kernels go there, next to the installed package: allowed)."""
    files = set()
    for p in site.rglob("*"):
        rel = p.relative_to(site)
        if "__pycache__" in rel.parts:
            continue
        files.add(rel.as_posix() + ("/" if p.is_dir() else ""))
    return files


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """(venv python, venv bin folder, site-packages, wheel) of a fresh install."""
    tmp = tmp_path_factory.mktemp("install")
    wheel = _build_wheel(_copy_source(tmp / "src"), tmp / "dist")
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True,
                   timeout=120)
    bindir = venv / ("Scripts" if os.name == "nt" else "bin")
    py = bindir / ("python.exe" if os.name == "nt" else "python")
    # pip runs inside the new environment (--python), so the console script's shebang
    # names that environment's interpreter.
    run = subprocess.run([sys.executable, "-m", "pip", "--python", str(py), "install", "-q",
                          "--no-deps", "--no-index", str(wheel)],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    site = Path(subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_path("
                                "'purelib'))"], capture_output=True, text=True,
                               check=True).stdout.strip())
    # Dependencies only: the project's own packages are not in this folder (the editable
    # install is a finder in a .pth file, and .pth files of a folder a .pth names are not
    # read), so `lns` etc. can only come from the wheel; the test checks that below.
    (site / "_lnsmadam_test_deps.pth").write_text(sysconfig.get_path("purelib") + "\n")
    return py, bindir, site, wheel


def _env(tmp: Path) -> dict:
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "VIRTUAL_ENV")}
    env["LNSMADAM_CACHE"] = str(tmp / "cache")
    env["XDG_CACHE_HOME"] = str(tmp / "xdg-cache")
    env["PYTHONNOUSERSITE"] = "1"
    return env


def test_wheel_holds_every_package(installed):
    *_, wheel = installed
    names = zipfile.ZipFile(wheel).namelist()
    packed = {n.rsplit("/", 1)[0].replace("/", ".") for n in names
              if n.endswith("/__init__.py")}
    expected = _source_packages()
    assert {"sim.cycle", "sim.analysis", "sim.report", "sim.cli", "sim.cli.commands"} \
        <= expected
    assert expected - packed == set()
    # every module of the checkout, not only the packages
    for pkg in PACKAGES:
        for f in (ROOT / pkg).rglob("*.py"):
            if "__pycache__" not in f.parts:
                assert f.relative_to(ROOT).as_posix() in names
    entry = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    assert "lnsmadam = sim.cli:main" in zipfile.ZipFile(wheel).read(entry).decode()


def test_installed_command_runs_anywhere(installed, tmp_path):
    py, bindir, site, _ = installed
    exe = bindir / "lnsmadam"
    assert exe.exists()
    cwd = tmp_path / "elsewhere"
    cwd.mkdir()
    env = _env(tmp_path)
    before = _installed_files(site)

    where = subprocess.run([str(py), "-c", "import sys, lns, rtl, sim.cli, testbench; "
                            "print(lns.__file__); print(sim.cli.__file__); "
                            "print(testbench.__file__); print(repr(sys.path))"],
                           cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
    assert where.returncode == 0, where.stderr
    *files, path = where.stdout.splitlines()
    for f in files:
        assert Path(f).resolve().is_relative_to(site.resolve()), f
    assert str(ROOT) not in eval(path)                # the checkout is not on sys.path

    presets = subprocess.run([str(exe), "presets"], cwd=cwd, env=env, capture_output=True,
                             text=True, timeout=120)
    assert presets.returncode == 0, presets.stderr
    assert any(line.split()[:1] == ["lns12"] for line in presets.stdout.splitlines())

    out = cwd / "v"
    verilog = subprocess.run([str(exe), "verilog", "--preset", "lns12", "--out", str(out)],
                             cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert verilog.returncode == 0, verilog.stderr
    v = out / "lnsmadam_lns12_x1.v"
    assert f"wrote {v}" in verilog.stdout
    assert "module lnsmadam_lns12_x1" in v.read_text()
    assert (out / "lnsmadam_lns12_x1.json").exists()

    # the main job compiles the Numba kernels (cache=True: into lns/__pycache__/)
    demo = subprocess.run([str(exe), "demo", "--steps", "3", "--weights", "8"], cwd=cwd,
                          env=env, capture_output=True, text=True, timeout=300)
    assert demo.returncode == 0, demo.stderr
    assert "scalar reference agrees on 2000/2000" in demo.stdout

    # nothing written next to the installed package (bytecode and Numba caches aside)
    assert _installed_files(site) - before == set()
    assert sorted(p.name for p in cwd.iterdir()) == ["v"]
