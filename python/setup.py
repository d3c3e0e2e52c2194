"""Builds fedrec._fedrec with the project's CMake build (see pyproject.toml).

Environment:
    FEDREC_SOURCE_DIR   the repository root (default: this file's parent directory)
    FEDREC_BUILD_DIR    an existing, configured build directory (e.g. build/ of
                        scripts/build.sh): only its _fedrec target is built and
                        packaged, nothing is reconfigured
    FEDREC_JOBS         parallel build jobs (default: all cores)
    CMAKE_ARGS          extra CMake arguments, space-separated
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext


class CMakeExtension(Extension):
    def __init__(self, name: str) -> None:
        super().__init__(name, sources=[])


class CMakeBuild(build_ext):
    def build_extension(self, ext: Extension) -> None:
        source = Path(os.environ.get("FEDREC_SOURCE_DIR", Path(__file__).resolve().parent.parent))
        if not (source / "CMakeLists.txt").exists():
            raise RuntimeError(
                f"fedrec: no CMakeLists.txt in {source}; set FEDREC_SOURCE_DIR to the "
                "repository root (pip copied python/ away from it)"
            )
        jobs = os.environ.get("FEDREC_JOBS", str(os.cpu_count() or 1))
        existing = os.environ.get("FEDREC_BUILD_DIR")
        if existing:
            build = Path(existing).resolve()
            if not (build / "CMakeCache.txt").exists():
                raise RuntimeError(f"fedrec: FEDREC_BUILD_DIR={existing} is not configured")
        else:
            build = Path(self.build_temp).resolve() / "cmake"
            build.mkdir(parents=True, exist_ok=True)
            self._configure(source, build)
        subprocess.run(
            ["cmake", "--build", str(build), "--target", "_fedrec", "-j", jobs], check=True
        )
        built = next((build / "python" / "fedrec").glob("_fedrec*.so"))
        target = Path(self.get_ext_fullpath(ext.name))
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(built, target)

    @staticmethod
    def _configure(source: Path, build: Path) -> None:
        args = [
            f"-DPython_EXECUTABLE={sys.executable}",
            "-DFEDREC_BUILD_PYTHON=ON",
            "-DFEDREC_BUILD_TESTS=OFF",
            "-DFEDREC_BUILD_BENCH=OFF",
            "-DCMAKE_BUILD_TYPE=Release",
        ] + os.environ.get("CMAKE_ARGS", "").split()
        if shutil.which("ninja"):
            args.append("-GNinja")
        subprocess.run(["cmake", "-S", str(source), "-B", str(build), *args], check=True)


setup(ext_modules=[CMakeExtension("fedrec._fedrec")], cmdclass={"build_ext": CMakeBuild})
