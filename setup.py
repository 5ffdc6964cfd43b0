"""Builds the optional C accelerators; the package works without them.

Set AIRSOCKET_NO_EXTENSION=1 to skip the build. A failed build (no compiler,
or no zlib headers for the deflate one) leaves the pure-Python path, which
passes the same tests.
"""

import os

from setuptools import Extension, setup

ext_modules = []
if not os.environ.get("AIRSOCKET_NO_EXTENSION"):
    ext_modules.append(
        Extension(
            "airsocket._speedups",
            sources=["src/airsocket/_speedups.c"],
            depends=["src/airsocket/_module_types.h"],
            optional=True,
            extra_compile_args=["-O3"],
        )
    )
    ext_modules.append(
        Extension(
            "airsocket._deflate_speedups",
            sources=["src/airsocket/_deflate_speedups.c"],
            depends=["src/airsocket/_module_types.h"],
            libraries=["z"],
            optional=True,
            extra_compile_args=["-O3"],
        )
    )

setup(ext_modules=ext_modules)
