"""The model file is verified before loading: only scikit-learn, numpy and scipy types."""

from __future__ import annotations

import fractions
from pathlib import Path

import pytest

from cstoolkit.errors import UsageError
from tests.conftest import skip_or_fail


def test_a_model_file_with_another_type_is_refused(tmp_path: Path) -> None:
    try:
        import sklearn  # noqa: F401
        import skops  # noqa: F401
    except ImportError:
        skip_or_fail("scikit-learn is not installed", "pip install -e '.[test]' (or '.[ml]')")
    from cstoolkit.routing import modelfile

    bundle = {"models": {}, "vectorizers": {}, "tags": [], "x": fractions.Fraction(1, 3)}
    modelfile.save(bundle, {"name": "x"}, tmp_path, "x")
    with pytest.raises(UsageError, match=r"refusing to load object types fractions\.Fraction"):
        modelfile.load(tmp_path, "x")
    ok = {"models": {}, "vectorizers": {}, "tags": []}
    modelfile.save(ok, {"name": "y"}, tmp_path, "y")
    assert modelfile.load(tmp_path, "y")[0] == ok
