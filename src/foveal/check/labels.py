"""Likely label errors by confident learning (Northcutt et al. 2021) in cleanlab, its reference implementation: from
each image's probabilities under a model that did not train on it, the images whose given label the model finds least
likely. The probabilities come from a logistic regression on the pretrained embeddings, fitted on K-1 folds and
applied to the K-th (`--folds K`), or from a trained classifier (`--model`; its own training images are then not
out-of-fold, so the ranking is weaker there)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class LabelIssues:
    index: np.ndarray  # the items checked (indices into the scan), in the order of the arrays below
    given: np.ndarray  # the given label of each
    probs: np.ndarray  # (n, classes) the probabilities used
    quality: np.ndarray  # cleanlab's label quality score: low = the given label is unlikely
    flagged: np.ndarray  # bool: cleanlab's find_label_issues says the label is wrong
    source: str  # where the probabilities came from

    def ranked(self) -> np.ndarray:
        """Positions into the arrays, the most suspect first."""
        return np.argsort(self.quality, kind="stable")


def out_of_fold_probs(features: np.ndarray, labels: np.ndarray, classes: int, folds: int, seed: int = 0) -> np.ndarray:
    """(n, classes) probabilities, each row from a logistic regression that never saw that row."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    probs = np.zeros((len(labels), classes))
    smallest = np.bincount(labels, minlength=classes)
    k = max(2, min(folds, int(smallest[smallest > 0].min())))
    for train, held in StratifiedKFold(k, shuffle=True, random_state=seed).split(features, labels):
        model = make_pipeline(StandardScaler(), LogisticRegression(C=0.05, max_iter=300))
        model.fit(features[train], labels[train])
        probs[np.ix_(held, model.classes_)] = model.predict_proba(features[held])
    return probs


def label_issues(index: np.ndarray, given: np.ndarray, probs: np.ndarray, source: str) -> LabelIssues:
    from cleanlab.filter import find_label_issues
    from cleanlab.rank import get_label_quality_scores

    probs = np.clip(probs, 1e-12, None)
    probs = probs / probs.sum(1, keepdims=True)
    quality = get_label_quality_scores(given, probs, method="self_confidence")
    flagged = find_label_issues(given, probs, filter_by="prune_by_noise_rate")
    return LabelIssues(index, given, probs, quality, flagged, source)
