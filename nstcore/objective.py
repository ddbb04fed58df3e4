"""Gatys et al.'s objective over a batch of variants: ``alpha * L_content + beta * sum_l w_l E_l + tv * L_TV``.

Its targets (content responses, style Grams) are computed once per layer, without gradient; its weights are a
(B, T) matrix read from :class:`~nstcore.config.LossWeights` (one row per variant), so a weight moved mid-run changes
the next evaluation and nothing else.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from .config import LossWeights
from .errors import ConfigError
from .features import VGGFeatures
from .layers import sort_layers
from .losses import content_loss, gram, guided_gram, style_loss, tv_loss
from .progress import Losses
from .weight_text import blend_weights


class Objective:
    """The batched objective with its targets (content responses, style Grams) computed once, without grad.

    Targets are computed when a layer first gets a weight, not up front: the dashboard offers every conv layer at
    weight 0 so it can be switched on mid-run, and holding all sixteen content responses at 1024 px would cost
    gigabytes for nothing. ``set_weights`` turns one :class:`LossWeights` per variant into a (B, T) weight matrix;
    ``__call__`` returns the scalar to minimise (the sum over variants, whose gradients do not interact) and the
    (B, T) weighted terms in the column order ``content_names``, then ``style_names`` once per style image, then
    ``"tv"``; :meth:`evaluate` also returns the (B, T) raw terms (unweighted: each layer's own loss), so a consumer
    can show either without dividing weights out again.

    Several style images (Gatys et al. 2017, "Controlling Perceptual Factors in Neural Style Transfer"): each has its
    own Gram targets, and its terms are weighted by ``beta * w_l * blend_s``
    (:func:`~nstcore.weight_text.blend_weights`).
    Without masks the generated image's Gram at a layer is computed once and compared with every style's target, so
    an extra style costs a C x C difference per layer. With ``masks`` (one (1, 1, H, W) tensor in [0, 1] per style, in
    the content image's frame) each style is matched over its own region only: the mask is downsampled to each
    layer's resolution and that style's term uses the generated image's guided Gram there (:func:`guided_gram`).
    """

    def __init__(
        self,
        extractor: VGGFeatures,
        content: Tensor,
        style: Tensor | Sequence[Tensor],
        content_names: Sequence[str],
        style_names: Sequence[str],
        norm: str = "mean",
        masks: Sequence[Tensor] | None = None,
    ) -> None:
        self.extractor = extractor
        self.norm = norm
        self.content_names = sort_layers(extractor.model, list(content_names))
        self.style_names = sort_layers(extractor.model, list(style_names))
        self._content = content
        self._styles = [style] if isinstance(style, Tensor) else list(style)
        self.n_styles = len(self._styles)
        if masks is not None and len(masks) != self.n_styles:
            raise ConfigError(f"{len(masks)} masks for {self.n_styles} style images; give one mask per style.")
        self._masks = list(masks) if masks is not None else None
        self._layer_masks: dict[str, list[tuple[Tensor, float]]] = {}
        self.content_targets: dict[str, Tensor] = {}
        self.style_targets: dict[tuple[int, str], Tensor] = {}
        self.weights: Tensor | None = None
        self._active_content: list[int] = []
        self._active_style: list[int] = []  # column offsets s * len(style_names) + i
        self._use_tv = False

    @property
    def columns(self) -> list[str]:
        return [*self.content_names, *(self.style_names * self.n_styles), "tv"]

    def set_weights(self, variants: Sequence[LossWeights], device: torch.device) -> None:
        rows = []
        for v in variants:
            blend = blend_weights(v.style_blend, self.n_styles)
            rows.append(
                [v.alpha * v.content_layers.get(n, 0.0) for n in self.content_names]
                + [v.beta * share * v.style_layers.get(n, 0.0) for share in blend for n in self.style_names]
                + [v.tv]
            )
        self.weights = torch.tensor(rows, dtype=torch.float32, device=device)
        used = [any(row[j] != 0 for row in rows) for j in range(len(rows[0]))]  # from the host copy: no device sync
        nc, ns = len(self.content_names), len(self.style_names) * self.n_styles
        self._active_content = [i for i in range(nc) if used[i]]
        self._active_style = [i for i in range(ns) if used[nc + i]]
        self._use_tv = bool(used[-1])
        self._compute_targets()

    def set_content(self, content: Tensor) -> None:
        """A new content image (a generator trained on several photos sees another crop each step): its responses
        replace the old targets, for the active layers now and for others when they get a weight."""
        if self._masks is not None and content.shape[-2:] != self._content.shape[-2:]:
            raise ConfigError("Style masks are drawn in one content image's frame; a new content must keep its size.")
        self._content = content
        self.content_targets.clear()
        if self.weights is not None:
            self._compute_targets()

    def _compute_targets(self) -> None:
        """Targets of the layers that are active now and were never needed before (one pass per image)."""
        content = [
            self.content_names[i] for i in self._active_content if self.content_names[i] not in self.content_targets
        ]
        ns = len(self.style_names)
        with torch.no_grad():
            if content:
                responses = self.extractor(self._content, content)
                self.content_targets.update({name: responses[name].detach() for name in content})
            for s, style in enumerate(self._styles):
                names = [
                    self.style_names[j - s * ns]
                    for j in self._active_style
                    if j // ns == s and (s, self.style_names[j - s * ns]) not in self.style_targets
                ]
                if names:
                    responses = self.extractor(style, names)
                    self.style_targets.update({(s, name): gram(responses[name]).detach() for name in names})

    def _masks_at(self, name: str, features: Tensor) -> list[tuple[Tensor, float]]:
        """The style masks at this layer's resolution, with their weights (computed once per layer)."""
        if name not in self._layer_masks:
            assert self._masks is not None
            size = features.shape[-2:]
            with torch.no_grad():
                scaled = [F.interpolate(mask, size=size, mode="area") for mask in self._masks]
                self._layer_masks[name] = [(m, float(m.pow(2).sum())) for m in scaled]
        return self._layer_masks[name]

    def __call__(self, image: Tensor) -> tuple[Tensor, Tensor]:
        total, weighted, _ = self.evaluate(image)
        return total, weighted

    def needed(self) -> list[str]:
        """The layers whose responses the next evaluation reads (those with a weight now)."""
        ns = len(self.style_names)
        style_layers = sorted({j % ns for j in self._active_style})
        return [self.content_names[i] for i in self._active_content] + [self.style_names[i] for i in style_layers]

    def evaluate(self, image: Tensor, responses: dict[str, Tensor] | None = None) -> tuple[Tensor, Tensor, Tensor]:
        """``(scalar to minimise, (B, T) weighted terms, (B, T) raw terms)``; a term whose weight is 0 is not
        computed, so its raw value is 0 too. ``responses`` of :meth:`needed` may come from a pass that ``image``
        shared with other images (:mod:`nstcore.batching`); by default this objective's extractor computes them."""
        assert self.weights is not None, "call set_weights first"
        ns = len(self.style_names)
        if responses is None:
            responses = self.extractor(image, self.needed())
        batch = image.shape[0]
        zero = image.new_zeros(batch)
        terms: list[Tensor] = []
        active_c, active_s = set(self._active_content), set(self._active_style)
        for i, name in enumerate(self.content_names):
            terms.append(
                content_loss(responses[name], self.content_targets[name], self.norm) if i in active_c else zero
            )
        grams: dict[str, Tensor] = {}  # one Gram per layer, shared by every style when there are no masks
        for s in range(self.n_styles):
            for i, name in enumerate(self.style_names):
                if s * ns + i not in active_s:
                    terms.append(zero)
                    continue
                features = responses[name]
                if self._masks is not None:
                    mask, weight = self._masks_at(name, features)[s]
                    own = guided_gram(features, mask, weight)
                else:
                    own = grams[name] if name in grams else grams.setdefault(name, gram(features))
                terms.append(style_loss(features, self.style_targets[(s, name)], self.norm, own_gram=own))
        terms.append(tv_loss(image, self.norm) if self._use_tv else zero)
        raw = torch.stack(terms, dim=1)
        weighted = raw * self.weights
        return weighted.sum(), weighted.detach(), raw.detach()


def losses_from_row(row: list[float], content_names: list[str], style_names: list[str], styles: int = 1) -> Losses:
    """One variant's :class:`Losses` from its row of weighted terms (columns as :attr:`Objective.columns`),
    followed by as many raw terms where the row has them (what a lane's step returns)."""
    nc, ns = len(content_names), len(style_names)
    width = nc + ns * styles + 1
    raw_row = row[width : 2 * width]
    row = row[:width]
    content = sum(row[:nc])
    per_style = [row[nc + s * ns : nc + (s + 1) * ns] for s in range(styles)]
    style = {name: sum(values[i] for values in per_style) for i, name in enumerate(style_names)}
    tv = row[-1]
    totals = tuple(sum(values) for values in per_style) if styles > 1 else ()
    raw: dict[str, float] = {}
    if len(raw_row) == width:
        raw = {f"content:{name}": raw_row[i] for i, name in enumerate(content_names)}
        for s in range(styles):
            image = "style" if styles == 1 else f"style {s + 1}"
            raw.update({f"{image}:{name}": raw_row[nc + s * ns + i] for i, name in enumerate(style_names)})
        raw["tv"] = raw_row[-1]
    return Losses(total=content + sum(style.values()) + tv, content=content, style=style, tv=tv, styles=totals, raw=raw)
