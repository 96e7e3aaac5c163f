"""The public names are a contract (API.md): adding or removing one must be a
conscious change of this list and of the docs."""

import zoopt
import zoopt.metrics
import zoopt.optimize
import zoopt.parallel
import zoopt.policy
import zoopt.projection
import zoopt.random
import zoopt.sphere

PUBLIC = {
    "zoopt": {"EstimateInfo", "OptimizeResult", "PolicyInfo", "__version__",
              "get_num_threads", "grad", "metrics", "minimize", "optimize", "parallel",
              "policy", "projection", "random", "set_num_threads", "sphere"},
    "zoopt.optimize": {"ES", "METHODS", "SNES", "SPSA", "ZOSGD", "OptimizeResult",
                       "OptimizeWarning", "Optimizer", "ZOAdam", "minimize", "scipy_method"},
    "zoopt.parallel": set(),
    "zoopt.metrics": {"BLEUScore", "accuracy", "confusion_matrix", "corpus_bleu", "f1_score",
                      "sentence_bleu", "sentence_bleu_batch"},
    "zoopt.policy": {"categorical", "chain_linear", "gaussian", "output_space", "sequence",
                     "shape"},
    "zoopt.random": {"KIND_ANGLE", "KIND_GUMBEL", "KIND_NORMAL", "KIND_PROJECTION",
                     "KIND_RADEMACHER", "directions", "key_from_rng", "philox4x32"},
    "zoopt.projection": {"GaussianRandomProjection", "NotFittedError", "SRHT",
                         "SparseRandomProjection", "fwht", "jl_min_dim"},
    "zoopt.sphere": {"angle_cdf", "angle_moments", "angle_pdf", "random_orthogonal",
                     "sample_angles", "uniform"},
}


def _public(module):
    return {n for n in dir(module) if not n.startswith("_")} | set(module.__all__)


def test_all_lists_exactly_the_public_names():
    assert set(zoopt.__all__) == PUBLIC["zoopt"]
    assert set(zoopt.random.__all__) == PUBLIC["zoopt.random"]
    assert set(zoopt.policy.__all__) == PUBLIC["zoopt.policy"]
    assert set(zoopt.optimize.__all__) == PUBLIC["zoopt.optimize"]
    assert set(zoopt.parallel.__all__) == PUBLIC["zoopt.parallel"]
    assert set(zoopt.metrics.__all__) == PUBLIC["zoopt.metrics"]
    assert set(zoopt.projection.__all__) == PUBLIC["zoopt.projection"]
    assert set(zoopt.sphere.__all__) == PUBLIC["zoopt.sphere"]


def test_no_unlisted_public_names():
    # names without a leading underscore that are not in __all__ (submodules of the
    # package and re-imported modules excepted)
    allowed = {"estimators", "jax", "plot", "torch"}  # imported only on use
    extra = {n for n in dir(zoopt) if not n.startswith("_")} - set(zoopt.__all__) - allowed
    assert not extra, f"public names missing from zoopt.__all__: {sorted(extra)}"
    extra = ({n for n in dir(zoopt.random) if not n.startswith("_")}
             - set(zoopt.random.__all__) - {"annotations", "np", "numbers", "Any",
                                            "get_num_threads", "threads_for",
                                            "check_choice", "check_float_dtype",
                                            "check_int"})
    assert not extra, f"public names missing from zoopt.random.__all__: {sorted(extra)}"


def test_every_public_callable_has_a_docstring():
    for mod in (zoopt, zoopt.random, zoopt.policy, zoopt.optimize, zoopt.parallel,
                zoopt.metrics, zoopt.projection, zoopt.sphere):
        for name in mod.__all__:
            obj = getattr(mod, name)
            if callable(obj):
                assert obj.__doc__, f"{mod.__name__}.{name}"
                assert len(obj.__doc__) > 40, f"{mod.__name__}.{name}"
