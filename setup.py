"""Build the compiled kernels of zoopt (metadata lives in pyproject.toml).

Environment variables:
    ZOOPT_CYTHON_DEBUG=1   turn Cython's bounds and wraparound checks back on
    ZOOPT_NO_OPENMP=1      build without OpenMP (kernels then run on one thread)
"""

import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile

from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

DEBUG = os.environ.get("ZOOPT_CYTHON_DEBUG", "") not in ("", "0")

# Bits must not depend on the instruction set: no contraction of a*b+c into
# FMA (results would differ between machines), no errno side effects from
# sqrt (they block vectorization and change no value).
EXACT_FLAGS = ["-ffp-contract=off", "-fno-math-errno"]


def _compiler_accepts(cc, flags, source="int main(void) { return 0; }\n"):
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "probe.c")
        with open(src, "w") as fh:
            fh.write(source)
        cmd = [cc, *flags, src, "-o", os.path.join(tmp, "probe")]
        try:
            res = subprocess.run(cmd, capture_output=True, check=False)
        except OSError:
            return False
        return res.returncode == 0


class BuildExt(build_ext):
    """Add OpenMP where the compiler has it and the exact-arithmetic flags."""

    def build_extensions(self):
        cc = getattr(self.compiler, "compiler_so", [None])[0]
        compile_args, link_args = [], []
        if self.compiler.compiler_type == "msvc":
            compile_args = ["/O2", "/fp:precise", "/openmp"]
        else:
            cc = cc or sysconfig.get_config_var("CC") or "cc"
            cc = shutil.which(cc.split()[0]) or cc.split()[0]
            compile_args = ["-O3", *EXACT_FLAGS]
            omp_src = (
                "#include <omp.h>\n"
                "int main(void) { return omp_get_max_threads() > 0 ? 0 : 1; }\n"
            )
            if os.environ.get("ZOOPT_NO_OPENMP", "") in ("", "0") and _compiler_accepts(
                cc, ["-fopenmp"], omp_src
            ):
                compile_args.append("-fopenmp")
                link_args.append("-fopenmp")
            else:
                print("zoopt: building without OpenMP; kernels run on one thread", file=sys.stderr)
        for ext in self.extensions:
            ext.extra_compile_args = [*ext.extra_compile_args, *compile_args]
            ext.extra_link_args = [*ext.extra_link_args, *link_args]
        super().build_extensions()


directives = {
    "language_level": 3,
    "boundscheck": DEBUG,
    "wraparound": DEBUG,
    "initializedcheck": DEBUG,
    "cdivision": True,
    "embedsignature": True,
}

# The streams header is shared with the CUDA kernels, so it ships beside them.
INCLUDE = ["src_cy", "src/zoopt/_gpu"]

extensions = [
    Extension(
        "zoopt._cy.streams",
        ["src_cy/streams.pyx"],
        include_dirs=INCLUDE,
        depends=["src/zoopt/_gpu/zoopt_streams.h"],
    ),
    Extension("zoopt._cy.metrics", ["src_cy/metrics.pyx"], include_dirs=INCLUDE),
    Extension("zoopt._cy.bleu", ["src_cy/bleu.pyx"], include_dirs=INCLUDE),
    Extension(
        "zoopt._cy.projection",
        ["src_cy/projection.pyx"],
        include_dirs=INCLUDE,
        depends=["src/zoopt/_gpu/zoopt_streams.h"],
    ),
    Extension(
        "zoopt._cy.policy",
        ["src_cy/policy.pyx"],
        include_dirs=INCLUDE,
        depends=["src/zoopt/_gpu/zoopt_streams.h"],
    ),
]

setup(
    package_dir={"": "src"},
    ext_modules=cythonize(extensions, compiler_directives=directives),
    cmdclass={"build_ext": BuildExt},
)
