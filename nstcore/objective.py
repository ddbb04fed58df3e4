"""Gatys et al.'s objective over a batch of variants: ``alpha * L_content + beta * sum_l w_l E_l + tv * L_TV``.

Its targets (content responses, style Grams) are computed once per layer, without gradient; its weights are a
(B, T) matrix read from :class:`~nstcore.config.LossWeights` (one row per variant), so a weight moved mid-run changes
the next evaluation and nothing else.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from .config import LossWeights
from .features import VGGFeatures
from .layers import sort_layers
from .losses import content_loss, gram, style_loss, tv_loss
from .progress import Losses


class Objective:
    """The batched objective with its targets (content responses, style Grams) computed once, without grad.

    Targets are computed when a layer first gets a weight, not up front: the dashboard offers every conv layer at
    weight 0 so it can be switched on mid-run, and holding all sixteen content responses at 1024 px would cost
    gigabytes for nothing. ``set_weights`` turns one :class:`LossWeights` per variant into a (B, T) weight matrix;
    ``__call__`` returns the scalar to minimise (the sum over variants, whose gradients do not interact) and the
    (B, T) weighted terms in the column order ``content_names + style_names + ["tv"]``.
    """

    def __init__(
        self,
        extractor: VGGFeatures,
        content: Tensor,
        style: Tensor,
        content_names: Sequence[str],
        style_names: Sequence[str],
        norm: str = "mean",
    ) -> None:
        self.extractor = extractor
        self.norm = norm
        self.content_names = sort_layers(extractor.model, list(content_names))
        self.style_names = sort_layers(extractor.model, list(style_names))
        self._content, self._style = content, style
        self.content_targets: dict[str, Tensor] = {}
        self.style_targets: dict[str, Tensor] = {}
        self.weights: Tensor | None = None
        self._active_content: list[int] = []
        self._active_style: list[int] = []
        self._use_tv = False

    @property
    def columns(self) -> list[str]:
        return [*self.content_names, *self.style_names, "tv"]

    def set_weights(self, variants: Sequence[LossWeights], device: torch.device) -> None:
        rows = []
        for v in variants:
            rows.append(
                [v.alpha * v.content_layers.get(n, 0.0) for n in self.content_names]
                + [v.beta * v.style_layers.get(n, 0.0) for n in self.style_names]
                + [v.tv]
            )
        self.weights = torch.tensor(rows, dtype=torch.float32, device=device)
        used = [any(row[j] != 0 for row in rows) for j in range(len(rows[0]))]  # from the host copy: no device sync
        nc, ns = len(self.content_names), len(self.style_names)
        self._active_content = [i for i in range(nc) if used[i]]
        self._active_style = [i for i in range(ns) if used[nc + i]]
        self._use_tv = bool(used[-1])
        self._compute_targets()

    def _compute_targets(self) -> None:
        """Targets of the layers that are active now and were never needed before (one pass per image)."""
        content = [
            self.content_names[i] for i in self._active_content if self.content_names[i] not in self.content_targets
        ]
        style = [self.style_names[i] for i in self._active_style if self.style_names[i] not in self.style_targets]
        with torch.no_grad():
            if content:
                responses = self.extractor(self._content, content)
                self.content_targets.update({name: responses[name].detach() for name in content})
            if style:
                responses = self.extractor(self._style, style)
                self.style_targets.update({name: gram(responses[name]).detach() for name in style})

    def __call__(self, image: Tensor) -> tuple[Tensor, Tensor]:
        assert self.weights is not None, "call set_weights first"
        needed = [self.content_names[i] for i in self._active_content] + [
            self.style_names[i] for i in self._active_style
        ]
        responses = self.extractor(image, needed)
        batch = image.shape[0]
        zero = image.new_zeros(batch)
        terms: list[Tensor] = []
        active_c, active_s = set(self._active_content), set(self._active_style)
        for i, name in enumerate(self.content_names):
            terms.append(
                content_loss(responses[name], self.content_targets[name], self.norm) if i in active_c else zero
            )
        for i, name in enumerate(self.style_names):
            terms.append(style_loss(responses[name], self.style_targets[name], self.norm) if i in active_s else zero)
        terms.append(tv_loss(image, self.norm) if self._use_tv else zero)
        weighted = torch.stack(terms, dim=1) * self.weights
        return weighted.sum(), weighted.detach()


def losses_from_row(row: list[float], content_names: list[str], style_names: list[str]) -> Losses:
    nc, ns = len(content_names), len(style_names)
    content = sum(row[:nc])
    style = dict(zip(style_names, row[nc : nc + ns]))
    tv = row[-1]
    return Losses(total=content + sum(style.values()) + tv, content=content, style=style, tv=tv)
