"""The model file and its metadata, verified before anything is loaded.

A model is two files in the workspace's ``models/`` folder: ``NAME.skops`` (the fitted
vectorizers and classifiers, written with skops, whose loader rebuilds only the object types it
is told to trust, never running pickled code) and ``NAME.json`` (the metadata: format version,
library versions, data range, ticket count, per-class counts, feature set, metrics, the hash of
the training data and the SHA-256 of the ``.skops`` file).

Loading (:func:`load`) refuses, with one line (exit 2): a missing or unreadable file, another
format version, a model made with another scikit-learn major.minor version (its objects may not
mean the same), a ``.skops`` file whose SHA-256 differs from the metadata's (changed after
training), and any object type outside :data:`TRUSTED_PREFIXES`. The model file is trusted
workspace content, like the config: keep the workspace writable only by the team's account.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from cstoolkit.errors import UsageError

FORMAT = 1
DEFAULT_NAME = "routing"
#: Object types the loader may rebuild: scikit-learn's, numpy's and scipy's, nothing else.
TRUSTED_PREFIXES = ("sklearn.", "numpy.", "scipy.sparse.", "builtins.")


def paths(directory: Path, name: str = DEFAULT_NAME) -> tuple[Path, Path]:
    return directory / f"{name}.skops", directory / f"{name}.json"


def versions() -> dict[str, str]:
    import numpy
    import scipy
    import sklearn
    import skops

    return {
        "scikit-learn": sklearn.__version__,
        "numpy": numpy.__version__,
        "scipy": scipy.__version__,
        "skops": skops.__version__,
    }


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _major_minor(v: str) -> str:
    return ".".join(v.split(".")[:2])


def save(bundle: dict[str, Any], meta: dict[str, Any], directory: Path, name: str) -> Path:
    """Write the model and its metadata (each to a temporary file renamed into place)."""
    import zipfile

    import skops.io as sio

    directory.mkdir(parents=True, exist_ok=True)
    model_path, meta_path = paths(directory, name)
    tmp = model_path.with_name(f".{model_path.name}.tmp")
    sio.dump(_pack(bundle), tmp, compression=zipfile.ZIP_DEFLATED)
    meta = dict(meta, format=FORMAT, versions=versions(), sha256=_sha256(tmp))
    meta["size_bytes"] = tmp.stat().st_size
    tmp_meta = meta_path.with_name(f".{meta_path.name}.tmp")
    tmp_meta.write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n", "utf-8")
    os.replace(tmp, model_path)
    os.replace(tmp_meta, meta_path)
    return model_path


def _pack(bundle: dict[str, Any]) -> dict[str, Any]:
    """The bundle with each vectorizer's vocabulary as an array of its terms (in column order)
    instead of a dict: a dict of 100,000 terms is slow to write and read, an array is not."""
    import copy

    import numpy as np

    vecs, vocab = {}, {}
    for key, fitted in bundle.get("vectorizers", {}).items():
        terms = getattr(fitted, "vocabulary_", None)
        vec = copy.copy(fitted)
        if isinstance(terms, dict):
            order = np.empty(len(terms), dtype=object)
            for term, j in terms.items():
                order[j] = term
            vocab[key] = np.array(order.tolist(), dtype=str)
            del vec.vocabulary_
        vecs[key] = vec
    return dict(bundle, vectorizers=vecs, vocabularies=vocab)


def _unpack(bundle: dict[str, Any]) -> dict[str, Any]:
    vocab = bundle.pop("vocabularies", {})
    for key, terms in vocab.items():
        bundle["vectorizers"][key].vocabulary_ = {t: j for j, t in enumerate(terms.tolist())}
    return bundle


def read_meta(directory: Path, name: str = DEFAULT_NAME) -> dict[str, Any]:
    model_path, meta_path = paths(directory, name)
    if not meta_path.exists() or not model_path.exists():
        raise UsageError(f"{model_path}: no model (train one: cst model train)")
    try:
        meta = json.loads(meta_path.read_text("utf-8"))
    except (OSError, ValueError) as exc:
        raise UsageError(f"{meta_path}: unreadable model metadata ({exc})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise UsageError(
            f"{meta_path}: model format {meta.get('format') if isinstance(meta, dict) else '?'}"
            f" is not {FORMAT}: retrain it (cst model train)"
        )
    return meta


def check_compatible(meta: dict[str, Any], path: Path) -> None:
    import sklearn

    made = str(meta.get("versions", {}).get("scikit-learn", "?"))
    if _major_minor(made) != _major_minor(sklearn.__version__):
        raise UsageError(
            f"{path}: trained with scikit-learn {made}, this is {sklearn.__version__}: "
            "retrain it (cst model train)"
        )


def load(directory: Path, name: str = DEFAULT_NAME) -> tuple[dict[str, Any], dict[str, Any]]:
    """The verified model and its metadata (see the module's docstring for what is refused)."""
    import skops.io as sio

    meta = read_meta(directory, name)
    model_path, _ = paths(directory, name)
    check_compatible(meta, model_path)
    if _sha256(model_path) != meta.get("sha256"):
        raise UsageError(f"{model_path}: the file changed after training (hash differs): retrain")
    try:
        untrusted = sio.get_untrusted_types(file=model_path)
        bad = [t for t in untrusted if not t.startswith(TRUSTED_PREFIXES)]
        if bad:
            raise UsageError(f"{model_path}: refusing to load object types {', '.join(bad)}")
        bundle = sio.load(model_path, trusted=untrusted)
    except UsageError:
        raise
    except Exception as exc:
        raise UsageError(f"{model_path}: cannot load the model ({type(exc).__name__})") from None
    if not isinstance(bundle, dict) or "models" not in bundle:
        raise UsageError(f"{model_path}: not a routing model")
    return _unpack(bundle), meta
