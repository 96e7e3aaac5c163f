"""Fixed seeds give fixed outputs: any change of the streams or of the
estimators' arithmetic shows here (regenerate with tests/make_golden.py only
when the change is intended and documented)."""

import json
from pathlib import Path

import numpy as np
import pytest

from make_golden import golden

STORED = json.loads((Path(__file__).parent / "data" / "golden.json").read_text())
NOW = golden()


@pytest.mark.parametrize("name", sorted(STORED))
def test_golden(name):
    # JSON holds float64 exactly (repr round-trips), so equality is exact
    np.testing.assert_array_equal(np.array(NOW[name]), np.array(STORED[name]))
