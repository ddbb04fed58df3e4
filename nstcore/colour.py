"""Colour preservation (Gatys, Bethge, Hertzmann & Shechtman, "Preserving Color in Neural Artistic Style Transfer",
2016): keep the photo's colours while the painting's style is transferred.

* ``histogram`` -- before the run, the style image's colours are moved to the content's: every pixel ``x`` becomes
  ``A x + b`` with ``A = Σc^½ Σs^-½`` and ``b = μc − A μs`` (μ, Σ: per-image mean and 3x3 colour covariance), so
  the style image's per-channel mean and covariance equal the content's. The run itself is unchanged.
* ``luminance`` -- the style is transferred on luminance only: the content and style images become their luminance
  (YIQ's Y, repeated to three channels for VGG), the style's luminance is matched to the content's in mean and
  variance first, and every image the run yields gets its luminance from the optimisation and its chroma (I, Q)
  from the content image.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

# NTSC YIQ, the space the paper uses (luminance Y; chroma I, Q).
_RGB_TO_YIQ = np.array([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]])
_YIQ_TO_RGB = np.linalg.inv(_RGB_TO_YIQ)
_EPS = 1e-5


def to_yiq(rgb: np.ndarray) -> np.ndarray:
    """HxWx3 floats in [0, 1] -> YIQ."""
    return rgb @ _RGB_TO_YIQ.T


def from_yiq(yiq: np.ndarray) -> np.ndarray:
    return yiq @ _YIQ_TO_RGB.T


def _floats(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("RGB"), dtype=np.float64) / 255.0


def _image(rgb: np.ndarray) -> Image.Image:
    return Image.fromarray(np.clip(np.rint(rgb * 255.0), 0, 255).astype(np.uint8))


def _sqrt_psd(matrix: np.ndarray, inverse: bool = False) -> np.ndarray:
    """Symmetric square root (or its inverse) of a covariance matrix, eigenvalues floored for flat images."""
    values, vectors = np.linalg.eigh(matrix)
    values = np.maximum(values, _EPS)
    return (vectors * (values ** (-0.5 if inverse else 0.5))) @ vectors.T


def match_colours(style: Image.Image, content: Image.Image) -> Image.Image:
    """The style image with the content image's per-channel mean and colour covariance (the paper's linear map)."""
    s, c = _floats(style).reshape(-1, 3), _floats(content).reshape(-1, 3)
    mu_s, mu_c = s.mean(0), c.mean(0)
    cov_s, cov_c = np.cov(s, rowvar=False), np.cov(c, rowvar=False)
    a = _sqrt_psd(cov_c) @ _sqrt_psd(cov_s, inverse=True)
    out = (s - mu_s) @ a.T + mu_c
    return _image(out.reshape(style.height, style.width, 3))


def luminance_image(image: Image.Image, reference: Image.Image | None = None) -> Image.Image:
    """The image's luminance as a grey RGB image; with ``reference``, shifted and scaled so its mean and standard
    deviation equal the reference's luminance (the paper's matching of the style's luminance to the content's)."""
    y = to_yiq(_floats(image))[..., 0]
    if reference is not None:
        ref = to_yiq(_floats(reference))[..., 0]
        y = (y - y.mean()) * (ref.std() / max(y.std(), _EPS)) + ref.mean()
    return _image(np.repeat(y[..., None], 3, axis=2))


def recolour(result: np.ndarray, content: Image.Image) -> np.ndarray:
    """A run's HxWx3 uint8 result with its own luminance and the content image's chroma (I, Q)."""
    height, width = result.shape[:2]
    if content.size != (width, height):
        content = content.resize((width, height), Image.Resampling.BICUBIC)
    y = to_yiq(result.astype(np.float64) / 255.0)[..., :1]
    iq = to_yiq(_floats(content))[..., 1:]
    return np.asarray(_image(from_yiq(np.concatenate([y, iq], axis=2))))
