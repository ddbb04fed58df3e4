"""VGG layer names as Gatys et al. (2015, "A Neural Algorithm of Artistic Style") write them.

``conv4_2`` means the response of the second convolution in block 4 *after its ReLU*, as in Caffe, where the ReLU
runs in place on the convolution's output. In ``torchvision.models.vgg19().features`` that conv is ``features[21]``
and its ReLU ``features[22]``; the tap point for ``conv4_2`` is therefore index 22.
"""

from __future__ import annotations

from functools import cache

from .errors import ConfigError, shown

# Convolutions per block: the architecture tables of Simonyan & Zisserman (2014), configurations D and E.
_BLOCKS: dict[str, tuple[int, ...]] = {
    "vgg16": (2, 2, 3, 3, 3),
    "vgg19": (2, 2, 4, 4, 4),
}

MODELS: tuple[str, ...] = tuple(_BLOCKS)


@cache
def layer_indices(model: str) -> dict[str, int]:
    """Map ``convB_K`` to the index of the *convolution* in ``torchvision`` ``vgg*.features``.

    Each conv is followed by a ReLU and each block by a 2x2 pool, so the layout is derived, not hand-typed.
    """
    if model not in _BLOCKS:
        raise ConfigError(f"Unknown model {shown(model)}; choose one of {', '.join(MODELS)}.")
    names: dict[str, int] = {}
    index = 0
    for block, convs in enumerate(_BLOCKS[model], start=1):
        for k in range(1, convs + 1):
            names[f"conv{block}_{k}"] = index
            index += 2  # conv, relu
        index += 1  # pool
    return names


def layer_names(model: str) -> tuple[str, ...]:
    """All conv layer names of ``model`` in network order."""
    return tuple(layer_indices(model))


def tap_index(model: str, name: str) -> int:
    """Index in ``features`` whose output is the named (post-ReLU) response."""
    indices = layer_indices(model)
    if name not in indices:
        raise ConfigError(
            f"Unknown layer {shown(name)} for {model}; valid names are conv1_1 ... "
            f"{layer_names(model)[-1]} (e.g. conv4_2)."
        )
    return indices[name] + 1


def pools_before(model: str, name: str) -> int:
    """How many 2x2 poolings an input passes before reaching ``name`` (its resolution is 1 / 2**n)."""
    tap_index(model, name)  # validates
    return int(name[4]) - 1


def sort_layers(model: str, names: list[str] | tuple[str, ...]) -> list[str]:
    """Names in network order (shallow first)."""
    return sorted(names, key=lambda n: tap_index(model, n))


# What a block's Gram matrices capture, in a newcomer's words (Gatys et al. 2015, Fig. 1: style reconstructions from
# conv1_1 alone show fine grain and colour; adding deeper layers brings ever larger structures of the painting).
_STYLE_HINTS = {
    1: "fine grain and colour",
    2: "small brush texture",
    3: "strokes and patterns",
    4: "larger motifs",
    5: "large shapes",
}
# As a content layer (Fig. 1, content reconstructions): shallow layers keep the exact pixels, deep ones only layout.
_CONTENT_HINTS = {
    1: "keeps exact pixels: little room for style",
    2: "keeps fine detail",
    3: "keeps edges and detail",
    4: "keeps the layout, frees the texture (the paper's choice)",
    5: "keeps only the rough layout",
}


def layer_hint(name: str, role: str = "style") -> str:
    """A one-line hint of what ``convB_K`` does as a style (or content) layer, e.g. "large shapes"."""
    block = int(name[4]) if len(name) > 4 and name[4].isdigit() else 0
    return (_CONTENT_HINTS if role == "content" else _STYLE_HINTS).get(block, "")
