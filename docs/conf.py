"""Sphinx configuration of zoopt's API reference (built from the docstrings).

Build: ``python -m sphinx -W --keep-going -n -b html docs docs/_build/html``
(needs the ``docs`` extra and an installed zoopt, whose compiled kernels autodoc imports).
"""

from __future__ import annotations

import importlib.util
import re

import zoopt

project = "zoopt"
author = "The zoopt developers"
copyright = "The zoopt developers"
release = zoopt.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.napoleon",
]
exclude_patterns = ["_build"]
templates_path: list[str] = []
html_theme = "alabaster"
html_static_path: list[str] = []

# numpydoc sections, rendered by napoleon; the types stay text (``array_like of shape
# (n, d)`` is prose, not a reference), so nitpicky mode checks the references the
# docstrings make with roles (:func:, :class:, :mod:).
napoleon_google_docstring = False
napoleon_numpy_docstring = True
napoleon_use_param = False
napoleon_use_rtype = False
napoleon_preprocess_types = False
# Attributes like Parameters: names and types as text.
napoleon_custom_sections = [("Attributes", "params_style")]

# References sections cite by name; their numbered entries need no citation mark.
suppress_warnings = ["ref.footnote"]

# The docstrings say the types; the annotations of the signatures would repeat them with
# private aliases.
autodoc_typehints = "none"
autodoc_member_order = "bysource"
autosummary_generate = False

# zoopt.torch and zoopt.jax import their framework: where one is not installed its page
# is built from a stand-in module (CI installs both, so the real ones are documented).
autodoc_mock_imports = [m for m in ("torch", "jax") if importlib.util.find_spec(m) is None]

# Names of other projects are not resolved (no network at build time); every reference
# to zoopt itself must resolve.
nitpicky = True
nitpick_ignore_regex = [
    (r"py:.*", r"(numpy|np|scipy|sklearn|torch|jax|jnp|cupy|dask|distributed|"
               r"concurrent|matplotlib|collections|typing|os|pathlib|builtins)(\..*)?"),
]


_FOOTNOTE = re.compile(r"\[(\d+)\]_|^(\s*\.\. )\[(\d+)\]")


def _own_footnotes(app, what, name, obj, options, lines):
    """Make the numbered footnotes ``[1]`` of one docstring its own (``[#name-1]``):
    a module and its functions share a page, and docutils wants one target per label
    there (numpydoc renames them the same way)."""
    slug = name.replace(".", "-")

    def rename(m):
        if m.group(1) is not None:
            return f"[#{slug}-{m.group(1)}]_"
        return f"{m.group(2)}[#{slug}-{m.group(3)}]"

    lines[:] = [_FOOTNOTE.sub(rename, line) for line in lines]


def setup(app):
    app.connect("autodoc-process-docstring", _own_footnotes)
