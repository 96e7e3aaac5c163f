"""The Examples sections of the public docstrings run (on the installed package)."""

import doctest

import pytest

import zoopt.estimators
import zoopt.metrics
import zoopt.optimize._minimize
import zoopt.optimize._scipy
import zoopt.policy
import zoopt.projection
import zoopt.random
import zoopt.sphere


@pytest.mark.parametrize("module", [zoopt.random, zoopt.estimators, zoopt.policy, zoopt.metrics,
                                    zoopt.optimize._minimize, zoopt.optimize._scipy,
                                    zoopt.projection, zoopt.sphere])
def test_doctests(module):
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0
    assert result.failed == 0
