"""The ER-ZSAR model: video and text projections, gated object fusion, clamped scores."""

from __future__ import annotations

from torch import nn

from ..._utils.validation import check_bool, check_choice, check_real
from ._fusion import GatedFusion, ZSARScores, zsar_scores
from ._losses import build_concept_vocab, elaborative_rehearsal_loss, zsar_classification_loss
from ._projection import TextProjection, VideoProjection
from ._text import check_texts

__all__ = ["ZeroShotVideoTextModel"]


class ZeroShotVideoTextModel(nn.Module):
    """Zero-shot action recognition by video-text similarity (ER-ZSAR, Chen & Huang, ICCV 2021).

    Videos (precomputed features) and class texts (elaborative descriptions) are embedded in
    one space; a video's object-concept text forms a second stream, fused with gates. The
    forward returns the cosines ``act`` and ``obj`` and the fused ``logits = act +
    clamp(obj, 0)``, all before the temperature.

    Parameters
    ----------
    video_dim : int
        Video feature length.
    text_encoder : torch.nn.Module
        Maps a list of str (or token ids) to (n, text_dim) vectors or to ``(states, mask)``
        with states (n, L, text_dim); it may be frozen or trainable.
    text_dim : int
        The text encoder's output width.
    embed_dim : int, default=512
    use_objects : bool, default=True
        Use the object-concept stream.
    fusion : {"gated", "sum"}, default="gated"
        ``"gated"``: the two gate MLPs of fusion type 3; ``"sum"``: no gates (``v' = v``,
        ``o' = o``). Ignored without objects.
    clamp_object_logits : bool, default=True
        The clamp rule of the training driver (the official split-eval script omits it).
    temperature : float, default=0.1
        τ used by :meth:`loss`.
    video_dropout, text_dropout, gate_dropout : float, default=0.0, 0.5, 0.5

    Examples
    --------
    >>> import torch
    >>> from normgraph.nn.zeroshot import TfidfTextEncoder, ZeroShotVideoTextModel
    >>> texts = ["move left: the shape moves left", "spin: the shape turns", "ball: a disc"]
    >>> enc = TfidfTextEncoder().fit(texts)
    >>> _ = torch.manual_seed(0)
    >>> model = ZeroShotVideoTextModel(8, enc, enc.dim_, embed_dim=4).eval()
    >>> out = model(torch.randn(2, 8), texts[:2], ["ball: a disc"] * 2)
    >>> out.logits.shape, bool((out.logits >= out.act).all())
    (torch.Size([2, 2]), True)
    """

    def __init__(self, video_dim, text_encoder, text_dim, embed_dim=512, use_objects=True,
                 fusion="gated", clamp_object_logits=True, temperature=0.1, video_dropout=0.0,
                 text_dropout=0.5, gate_dropout=0.5):
        super().__init__()
        if not callable(text_encoder):
            raise TypeError(f"text_encoder must be a callable module, got "
                            f"{type(text_encoder).__name__}")
        self.use_objects = check_bool(use_objects, "use_objects")
        self.fusion = check_choice(fusion, "fusion", ("gated", "sum"))
        self.clamp_object_logits = check_bool(clamp_object_logits, "clamp_object_logits")
        self.temperature = check_real(temperature, "temperature", low=0.0, low_inclusive=False)
        self.video_proj = VideoProjection(video_dim, embed_dim, video_dropout)
        self.text_encoder = text_encoder
        self.text_proj = TextProjection(text_dim, embed_dim, text_dropout)
        self.gates = (GatedFusion(embed_dim, gate_dropout)
                      if use_objects and fusion == "gated" else None)

    def extra_repr(self):
        return (f"use_objects={self.use_objects}, fusion={self.fusion!r}, "
                f"clamp_object_logits={self.clamp_object_logits}, "
                f"temperature={self.temperature}")

    def encode_texts(self, texts, name="texts", warn_duplicates=False):
        """L2-normalised joint-space embeddings (n, embed_dim) of texts."""
        texts = check_texts(texts, name, warn_duplicates=warn_duplicates)
        encoded = self.text_encoder(texts)
        weight = self.text_proj.linear.weight
        if isinstance(encoded, (tuple, list)) and len(encoded) == 2:
            encoded = (encoded[0].to(device=weight.device, dtype=weight.dtype), encoded[1])
        elif hasattr(encoded, "to"):
            encoded = encoded.to(device=weight.device, dtype=weight.dtype)
        return self.text_proj(encoded)

    def forward(self, video, class_texts, object_texts=None):
        """Scores of ``video`` (B, video_dim) against ``class_texts`` (K texts) -> ZSARScores.

        ``object_texts`` holds one concept text per video (its top concepts joined with
        spaces) and is required exactly when ``use_objects`` is True.
        """
        v = self.video_proj(video)
        t = self.encode_texts(class_texts, "class_texts", warn_duplicates=True)
        if not self.use_objects:
            if object_texts is not None:
                raise ValueError("object_texts given but use_objects=False")
            return zsar_scores(v, t)
        if object_texts is None:
            raise ValueError("object_texts is required when use_objects=True")
        o = self.encode_texts(object_texts, "object_texts")
        if o.shape[0] != v.shape[0]:
            raise ValueError(f"object_texts must hold one text per video ({v.shape[0]}), "
                             f"got {o.shape[0]}")
        if self.gates is not None:
            v, o = self.gates(v, o)
        return zsar_scores(v, t, o, self.clamp_object_logits)

    def loss(self, scores, targets, concept_lists=None, er_weight=1.0):
        """``L_cls + er_weight * L_er`` for the output ``scores`` of :meth:`forward`.

        ``concept_lists`` holds each video's ER concept texts (e.g. its top-5); ``None``
        skips the ER loss.
        """
        if not isinstance(scores, ZSARScores):
            raise TypeError("scores must be the ZSARScores returned by forward")
        loss = zsar_classification_loss(scores.act, scores.obj,
                                        None if scores.obj is None else scores.logits,
                                        targets, self.temperature)
        if concept_lists is None:
            return loss
        er_weight = check_real(er_weight, "er_weight", low=0.0)
        if len(concept_lists) != scores.act.shape[0]:
            raise ValueError(f"concept_lists must hold one list per video "
                             f"({scores.act.shape[0]}), got {len(concept_lists)}")
        vocab, er_targets = build_concept_vocab(concept_lists)
        embs = [scores.video_emb] if scores.object_emb is None else [scores.video_emb,
                                                                     scores.object_emb]
        if not vocab:
            return loss + er_weight * elaborative_rehearsal_loss(
                embs, embs[0][:0], er_targets.to(embs[0].device), self.temperature)
        concept_emb = self.encode_texts(vocab, "concept texts")
        return loss + er_weight * elaborative_rehearsal_loss(
            embs, concept_emb, er_targets.to(concept_emb.device), self.temperature)
