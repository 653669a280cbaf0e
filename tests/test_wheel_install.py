"""A non-editable install keeps the embedded defaults (issue 12, bug 7).

Builds a wheel from a copy of the source tree (offline: the installed setuptools and
wheel, ``--no-build-isolation``), installs it into a fresh virtual environment
(``--no-deps --no-index``: nothing is downloaded), and runs ``eiesim run`` and
``eiesim reproduce eie-table4`` from a folder outside the source tree with PYTHONPATH
cleared, so only the installed package is used.

The new environment gets its dependencies from the environment running the tests: a
``.pth`` file lists that environment's site-packages folders. Python does not read the
``.pth`` files inside a folder added that way, so an editable install of eiesim there (a
``.pth`` file or an import hook) stays invisible; the test checks that ``eiesim`` is
imported from the new environment. (``--system-site-packages`` would expose the base
interpreter's packages instead, which, in a virtual environment, are not eiesim's
dependencies.)

Before the fix both commands looked for ``arch_configs/`` and ``workloads/`` beside the
package and failed ("architecture file not found").
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: Not part of what a build reads (and slow or unsafe to copy).
IGNORED = shutil.ignore_patterns(".git", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache", "reports",
                                 ".hypothesis")


def _run(cmd: list[str], cwd: Path, env: dict[str, str], timeout: float = 900) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"{' '.join(map(str, cmd))} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    return proc


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    pytest.importorskip("wheel", reason="the test extra installs 'wheel' (needed to build without network)")
    base = tmp_path_factory.mktemp("wheel")
    src = base / "src"
    shutil.copytree(ROOT, src, symlinks=True, ignore=IGNORED)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q",
          "-w", str(base / "dist"), str(src)], base, env)
    wheels = list((base / "dist").glob("eiesim-*.whl"))
    assert len(wheels) == 1, wheels
    env_dir = base / "venv"
    venv.EnvBuilder(system_site_packages=False, with_pip=False).create(env_dir)
    python = env_dir / "bin" / "python"
    _share_dependencies(python, env)
    # This interpreter's pip installs into the new environment (pip >= 22.3: --python); no pip copy needed.
    _run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index", "-q",
          str(wheels[0])], base, env)
    shutil.rmtree(src)  # nothing may come from the source tree any more
    work = base / "elsewhere"
    work.mkdir()
    return {"python": python, "eiesim": env_dir / "bin" / "eiesim", "env": env, "cwd": work, "venv": env_dir}


def _share_dependencies(python: Path, env: dict[str, str]) -> None:
    """Make the running environment's packages importable in the environment of ``python`` (a ``.pth`` file)."""
    proc = _run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], python.parent, env)
    site_packages = Path(proc.stdout.strip())
    ours = dict.fromkeys(sysconfig.get_paths()[key] for key in ("purelib", "platlib"))
    (site_packages / "running-environment.pth").write_text("".join(f"{path}\n" for path in ours))


def test_the_installed_package_is_the_wheel(installed):
    proc = _run([str(installed["python"]), "-c", "import eiesim, eiesim.config.defaults as d; "
                 "print(eiesim.__file__); print(d.DEFAULTS_DIR)"], installed["cwd"], installed["env"])
    module_file, defaults = proc.stdout.split()
    assert Path(module_file).is_relative_to(installed["venv"]), module_file
    for name in ("eie-64pe-8bit.yaml", "eie-64pe.yaml", "squeezenet-1.0-synthetic.npz"):
        path = Path(defaults) / name
        assert path.is_file() and not path.is_symlink(), path
        assert path.read_bytes() == (ROOT / ("workloads" if name.endswith(".npz") else "arch_configs") / name
                                     ).read_bytes()
    for folder, names in (("squeezenet_dc", ("compressed_SqueezeNet.net", "SqueezeNet_deploy.prototxt", "LICENCE",
                                             "PROVENANCE.md")),
                          ("imagenet", ("imagenet_classes.txt", "LICENSE-torchvision", "PROVENANCE.md"))):
        for name in names:
            path = Path(defaults).parent / folder / name
            assert path.read_bytes() == (ROOT / "eiesim" / "data" / folder / name).read_bytes(), path


def test_run_with_the_embedded_defaults(installed):
    proc = _run([str(installed["eiesim"]), "run", "--json", "r.json"], installed["cwd"], installed["env"])
    report = json.loads((installed["cwd"] / "r.json").read_text())
    assert report["arch"]["name"] == "eie-64pe-8bit" and report["workload"]["name"] == "squeezenet-1.0-dc"
    assert report["check"]["functional"] == "pass"
    assert "conv1" in proc.stdout


def test_reproduce_table4_with_the_embedded_defaults(installed):
    proc = _run([str(installed["eiesim"]), "reproduce", "eie-table4"], installed["cwd"], installed["env"])
    assert "Alex-6" in proc.stdout and "VGG-8" in proc.stdout
