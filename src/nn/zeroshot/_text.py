"""Pluggable frozen text encoders: a TF-IDF encoder and a table of precomputed vectors.

The model accepts any module mapping a list of strings (or token ids) to (n, d) vectors or to
``(states, mask)``; these two need no text model (the core library depends on none).
"""

from __future__ import annotations

import warnings

import numpy as np
import torch
from torch import nn

__all__ = ["TfidfTextEncoder", "PrecomputedTextEncoder", "check_texts"]


def check_texts(texts, name, *, warn_duplicates=False):
    """A non-empty list of non-empty strings (a token-id tensor passes through unchanged).

    Parameters
    ----------
    texts : sequence of str or torch.Tensor
    name : str
        Parameter name for the messages.
    warn_duplicates : bool, default=False
        Warn when a text repeats (for class label sets: ties make the argmax ambiguous).

    Examples
    --------
    >>> from normgraph.nn.zeroshot import check_texts
    >>> check_texts(["jump", ""], "class_texts")
    Traceback (most recent call last):
    ...
    ValueError: class_texts[1] is an empty string
    """
    if isinstance(texts, torch.Tensor):
        if texts.dim() == 0 or texts.shape[0] == 0:
            raise ValueError(f"{name} must hold at least one text, got shape {tuple(texts.shape)}")
        return texts
    if isinstance(texts, str) or not hasattr(texts, "__len__"):
        raise TypeError(f"{name} must be a list of str (or a token-id tensor), "
                        f"got {type(texts).__name__}")
    texts = list(texts)
    if not texts:
        raise ValueError(f"{name} is empty")
    for i, t in enumerate(texts):
        if not isinstance(t, str):
            raise TypeError(f"{name}[{i}] must be a str, got {type(t).__name__}")
        if not t.strip():
            raise ValueError(f"{name}[{i}] is an empty string")
    if warn_duplicates and len(set(texts)) < len(texts):
        dup = sorted({t for t in texts if texts.count(t) > 1})
        warnings.warn(f"{name} has duplicate texts {dup}: their scores tie and the argmax is "
                      "ambiguous", UserWarning, stacklevel=3)
    return texts


class TfidfTextEncoder(nn.Module):
    """Frozen TF-IDF vectors of the texts (scikit-learn ``TfidfVectorizer``), as (n, vocab).

    Parameters
    ----------
    **vectorizer_params
        Passed to ``sklearn.feature_extraction.text.TfidfVectorizer`` (defaults otherwise).

    Attributes
    ----------
    vectorizer_ : TfidfVectorizer
        Fitted by :meth:`fit`.
    dim_ : int
        Vocabulary size (the output width).

    Examples
    --------
    >>> from normgraph.nn.zeroshot import TfidfTextEncoder
    >>> enc = TfidfTextEncoder().fit(["move left", "move right", "spin"])
    >>> enc(["move left"]).shape
    torch.Size([1, 4])
    """

    def __init__(self, **vectorizer_params):
        super().__init__()
        self.vectorizer_params = vectorizer_params

    def fit(self, corpus):
        """Fit the vocabulary and idf weights on ``corpus`` (a list of str); returns self."""
        from sklearn.feature_extraction.text import TfidfVectorizer

        corpus = check_texts(corpus, "corpus")
        self.vectorizer_ = TfidfVectorizer(**self.vectorizer_params).fit(corpus)
        self.dim_ = len(self.vectorizer_.vocabulary_)
        return self

    def extra_repr(self):
        return f"dim={getattr(self, 'dim_', None)}"

    def forward(self, texts):
        if not hasattr(self, "vectorizer_"):
            raise RuntimeError("TfidfTextEncoder is not fitted; call fit(corpus) first")
        texts = check_texts(texts, "texts")
        dense = self.vectorizer_.transform(texts).toarray().astype(np.float32)
        return torch.from_numpy(dense)


class PrecomputedTextEncoder(nn.Module):
    """Look-up of vectors computed once by any frozen encoder (MiniLM, BERT, ...).

    Parameters
    ----------
    texts : list of str
        The known texts (unique).
    vectors : array-like of shape (len(texts), d)
        Their vectors; stored as a buffer, so ``.to()`` / ``.double()`` move it.

    Examples
    --------
    >>> import torch
    >>> from normgraph.nn.zeroshot import PrecomputedTextEncoder
    >>> enc = PrecomputedTextEncoder(["a", "b"], torch.eye(2))
    >>> enc(["b", "a", "b"])
    tensor([[0., 1.],
            [1., 0.],
            [0., 1.]])
    """

    def __init__(self, texts, vectors):
        super().__init__()
        texts = check_texts(texts, "texts")
        if len(set(texts)) != len(texts):
            raise ValueError("texts must be unique")
        vectors = torch.as_tensor(np.asarray(vectors, dtype=np.float32)
                                  if not isinstance(vectors, torch.Tensor) else vectors)
        if vectors.dim() != 2 or vectors.shape[0] != len(texts):
            raise ValueError(f"vectors must have shape ({len(texts)}, d), "
                             f"got {tuple(vectors.shape)}")
        self.index = {t: i for i, t in enumerate(texts)}
        self.register_buffer("vectors", vectors.clone())

    def extra_repr(self):
        return f"n_texts={len(self.index)}, dim={self.vectors.shape[1]}"

    def forward(self, texts):
        texts = check_texts(texts, "texts")
        missing = [t for t in texts if t not in self.index]
        if missing:
            raise ValueError(f"texts not in the precomputed table: {missing[:3]}")
        return self.vectors[[self.index[t] for t in texts]]
