"""Features and linear models (scikit-learn, the ``cstoolkit[ml]`` extra; imported lazily).

Features of a ticket: TF-IDF of the words (1-2 grams) and of character 2-4 grams (within word
boundaries: robust to typos, inflections and mixed languages) of its subject and first message,
plus one token per channel, language, requester's organisation and plan, and custom field value.
The language model reads the text only.

Models: one linear classifier per target. The default (``calibrated``), chosen by measurement on
the sample (docs/routing.md, "Choices"), is a linear SVM fitted by stochastic gradient descent
whose scores are calibrated into probabilities by a sigmoid fitted on 3 folds
(``CalibratedClassifierCV``, one final model); ``sgd`` (logistic loss, uncalibrated) and
``logreg`` (``saga``, slower) are kept for comparison. Topic tags are one logistic model per tag
fitted by stochastic gradient descent (many tags, each cheap); a tag is predicted at probability
0.5 or more. Weights are kept as float32 and the vectorizers without their cut terms, so the
file stays small.
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from cstoolkit.errors import UsageError
from cstoolkit.store.routing import Example

MIN_CLASS = 3
CLASSIFIERS = ("sgd", "calibrated", "logreg")
ENABLE = "pip install 'cstoolkit[ml]'"
FEATURE_SET = {
    "text": "subject + first message",
    "words": "TF-IDF, 1-2 grams, min_df 2, at most 100,000, sublinear tf",
    "chars": "TF-IDF, char_wb 3-4 grams, min_df 3, at most 100,000, sublinear tf",
    "meta": "channel, language, requester organisation and plan, custom fields (one token each)",
}
_SPACE = re.compile(r"\s+")


def require_sklearn() -> None:
    """Refuse with one line (exit 2) when the optional extra is not installed."""
    try:
        import sklearn  # noqa: F401
    except ImportError:
        raise UsageError(f"learned routing needs scikit-learn: {ENABLE}") from None


def text_of(ex: Example) -> str:
    return f"{ex.subject}\n{ex.description}"


def meta_of(ex: Example) -> str:
    def tok(k: str, v: Any) -> str:
        return f"{k}={_SPACE.sub('_', str(v)).lower()}"

    parts = [tok("channel", ex.channel), tok("lang", ex.language or "-")]
    parts.append(tok("org", ex.organization or "-"))
    parts.append(tok("plan", ex.plan or "-"))
    for k, v in sorted(ex.custom_fields.items()):
        if isinstance(v, str | int | bool) and len(str(v)) <= 60:
            parts.append(tok(f"cf.{k}", v))
    return " ".join(parts)


def vectorizers() -> dict[str, Any]:
    import numpy as np
    from sklearn.feature_extraction.text import TfidfVectorizer

    return {
        "words": TfidfVectorizer(
            ngram_range=(1, 2),
            min_df=2,
            max_features=100_000,
            sublinear_tf=True,
            dtype=np.float32,
        ),
        "chars": TfidfVectorizer(
            analyzer="char_wb",
            ngram_range=(3, 4),
            min_df=3,
            max_features=100_000,
            sublinear_tf=True,
            dtype=np.float32,
        ),
        "meta": TfidfVectorizer(
            token_pattern=r"[^ ]+",
            lowercase=False,
            use_idf=False,
            binary=True,
            dtype=np.float32,
        ),
    }


def matrices(vecs: dict[str, Any], exs: Sequence[Example], fit: bool = False) -> tuple[Any, Any]:
    """``(text, text + meta)`` feature matrices of ``exs`` (fitting the vectorizers first)."""
    import scipy.sparse as sp

    texts = [text_of(e) for e in exs]
    metas = [meta_of(e) for e in exs]
    how = "fit_transform" if fit else "transform"
    words = getattr(vecs["words"], how)(texts)
    chars = getattr(vecs["chars"], how)(texts)
    meta = getattr(vecs["meta"], how)(metas)
    text = sp.hstack([words, chars], format="csr")
    return text, sp.hstack([text, meta], format="csr")


def classifier(kind: str) -> Any:
    if kind == "sgd":
        from sklearn.linear_model import SGDClassifier

        return SGDClassifier(loss="log_loss", alpha=5e-6, max_iter=8, tol=None, random_state=0)
    if kind == "calibrated":
        from sklearn.calibration import CalibratedClassifierCV
        from sklearn.linear_model import SGDClassifier

        return CalibratedClassifierCV(
            SGDClassifier(loss="hinge", alpha=5e-6, max_iter=8, tol=None, random_state=0),
            cv=3,
            method="sigmoid",
            ensemble=False,
        )
    if kind == "logreg":
        from sklearn.linear_model import LogisticRegression

        return LogisticRegression(C=8.0, solver="saga", max_iter=60, tol=1e-3)
    raise UsageError(f"unknown classifier {kind!r} (one of {', '.join(CLASSIFIERS)})")


def tag_classifier() -> Any:
    from sklearn.linear_model import SGDClassifier
    from sklearn.multiclass import OneVsRestClassifier

    return OneVsRestClassifier(
        SGDClassifier(loss="log_loss", alpha=2e-6, max_iter=6, tol=None, random_state=0)
    )


def _fitted(model: Any, x: Any, y: Any) -> Any:
    import warnings

    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(x, y)
    return model


def fit(
    exs: Sequence[Example],
    labels: Mapping[str, Sequence[Any]],
    tags: Sequence[str],
    kind: str = "calibrated",
) -> dict[str, Any]:
    """Fit the vectorizers and one model per target with labels (None: left out)."""
    import numpy as np

    vecs = vectorizers()
    text, full = matrices(vecs, exs, fit=True)
    jobs: dict[str, Callable[[], Any]] = {}
    for target in ("group", "priority", "language"):
        ys = labels[target]
        counts = Counter(y for y in ys if y is not None)
        # a class with fewer than MIN_CLASS tickets is not learned (calibration needs folds)
        rows = np.array(
            [i for i, y in enumerate(ys) if y is not None and counts[y] >= MIN_CLASS],
            dtype=np.int64,
        )
        if len(rows) == 0 or len({ys[i] for i in rows}) < 2:
            continue
        x = (text if target == "language" else full)[rows]
        y = np.array([ys[i] for i in rows])
        jobs[target] = functools.partial(_fitted, classifier(kind), x, y)
    if tags:
        y = np.array(
            [[1 if t in set(ts) else 0 for t in tags] for ts in labels["tags"]], dtype=np.int8
        )
        keep = [j for j in range(len(tags)) if 0 < y[:, j].sum() < len(exs)]
        if keep:
            jobs["tags"] = functools.partial(_fitted, tag_classifier(), full, y[:, keep])
            tags = [tags[j] for j in keep]
    # the fitting loops release the GIL: two threads use both cores
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {target: pool.submit(job) for target, job in jobs.items()}
        models = {target: f.result() for target, f in futures.items()}
    for vec in vecs.values():
        if hasattr(vec, "stop_words_"):  # the terms cut by min_df/max_features: not needed
            del vec.stop_words_
    for model in models.values():
        _shrink(model)
    return {"vectorizers": vecs, "models": models, "tags": list(tags)}


def _shrink(model: Any) -> None:
    """Keep the linear weights as float32 (half the file; predictions differ by < 1e-6)."""
    import numpy as np

    for est in _linear_parts(model):
        est.coef_ = est.coef_.astype(np.float32)


def _linear_parts(model: Any) -> list[Any]:
    if hasattr(model, "coef_"):
        return [model]
    if hasattr(model, "calibrated_classifiers_"):
        return [c.estimator for c in model.calibrated_classifiers_]
    if hasattr(model, "estimators_"):
        return [e for e in model.estimators_ if hasattr(e, "coef_")]
    return []


def predict(bundle: dict[str, Any], exs: Sequence[Example]) -> list[dict[str, Any]]:
    """Per ticket: ``predicted.<target>`` and ``predicted.<target>.confidence``."""
    import numpy as np

    out: list[dict[str, Any]] = [{} for _ in exs]
    if not exs:
        return out
    text, full = matrices(bundle["vectorizers"], exs)
    for target, model in bundle["models"].items():
        if target == "tags":
            probs = model.predict_proba(full)
            names = bundle["tags"]
            for i, row in enumerate(np.atleast_2d(probs)):
                chosen = [(names[j], float(p)) for j, p in enumerate(row) if p >= 0.5]
                chosen.sort(key=lambda x: -x[1])
                out[i]["predicted.tags"] = [t for t, _ in chosen]
                # how sure the whole set is: the least sure chosen tag, else the surest "no"
                conf = min(p for _, p in chosen) if chosen else 1.0 - float(row.max())
                out[i]["predicted.tags.confidence"] = round(conf, 4)
            continue
        probs = model.predict_proba(text if target == "language" else full)
        classes = list(model.classes_)
        best = probs.argmax(axis=1)
        for i, k in enumerate(best):
            out[i][f"predicted.{target}"] = str(classes[k])
            out[i][f"predicted.{target}.confidence"] = round(float(probs[i, k]), 4)
    return out


def _coefs(model: Any) -> tuple[Any, list[str]]:
    """The linear weights (classes x features) and classes of a fitted model."""
    import numpy as np

    if hasattr(model, "coef_"):
        coef = model.coef_
    else:  # calibrated: the mean of the folds' SVMs
        coef = np.mean([c.estimator.coef_ for c in model.calibrated_classifiers_], axis=0)
    classes = [str(c) for c in model.classes_]
    if coef.shape[0] == 1 and len(classes) == 2:
        coef = np.vstack([-coef[0], coef[0]])
    return coef, classes


def explain(
    bundle: dict[str, Any], ex: Example, target: str = "group", top: int = 10
) -> dict[str, Any]:
    """The terms that pushed the prediction of ``target`` for ``ex``: each feature's value times
    its weight for the predicted class, largest first (and the ones that pulled against it)."""
    import numpy as np

    model = bundle["models"].get(target)
    if model is None or target == "tags":
        raise UsageError(f"the model has no {target} classifier to explain")
    text, full = matrices(bundle["vectorizers"], [ex])
    x = (text if target == "language" else full).tocsr()
    coef, classes = _coefs(model)
    pred = predict(bundle, [ex])[0]
    k = classes.index(pred[f"predicted.{target}"])
    names: list[str] = []
    for key, prefix in (("words", "word"), ("chars", "chars"), ("meta", "")):
        if target == "language" and key == "meta":
            break
        names += [
            f"{prefix}:{n}" if prefix else str(n)
            for n in bundle["vectorizers"][key].get_feature_names_out()
        ]
    row = x.getrow(0)
    contrib = [
        (names[j], float(v * coef[k, j])) for j, v in zip(row.indices, row.data, strict=True)
    ]
    contrib.sort(key=lambda c: -c[1])
    return {
        "target": target,
        "prediction": pred[f"predicted.{target}"],
        "confidence": pred[f"predicted.{target}.confidence"],
        "for": [{"term": n, "weight": round(w, 4)} for n, w in contrib[:top] if w > 0],
        "against": [
            {"term": n, "weight": round(w, 4)}
            for n, w in sorted(contrib, key=lambda c: c[1])[:3]
            if w < 0
        ],
        "intercept": round(float(np.ravel(getattr(model, "intercept_", [0.0]))[0]), 4),
    }
