"""The R index of review Eq. (3): known values, invariances, numpy and torch agree."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from physml.metrics import r_index


@pytest.fixture
def images() -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.random((5, 32, 32)).astype(np.float32)


def test_identical_images_give_one(images: np.ndarray) -> None:
    np.testing.assert_allclose(r_index(images, images), 1.0, atol=1e-12)
    np.testing.assert_allclose(
        r_index(torch.from_numpy(images), torch.from_numpy(images)).numpy(), 1.0, atol=1e-6
    )


def test_constant_image_gives_one_half(images: np.ndarray) -> None:
    const = np.full_like(images, 0.3)
    np.testing.assert_array_equal(r_index(images, const), 0.5)
    np.testing.assert_array_equal(r_index(const, images), 0.5)
    np.testing.assert_array_equal(r_index(const, const), 0.5)
    zeros = torch.zeros(images.shape)
    np.testing.assert_array_equal(r_index(torch.from_numpy(images), zeros).numpy(), 0.5)


def test_negated_image_gives_zero_up_to_offset(images: np.ndarray) -> None:
    np.testing.assert_allclose(r_index(images, -images), 0.0, atol=1e-12)
    np.testing.assert_allclose(r_index(images, 7.0 - images), 0.0, atol=1e-6)
    out = r_index(torch.from_numpy(images), torch.from_numpy(3.0 - images))
    np.testing.assert_allclose(out.numpy(), 0.0, atol=1e-6)


def test_affine_invariance_and_symmetry(images: np.ndarray) -> None:
    other = np.roll(images, 3, axis=-1)
    base = r_index(images, other)
    np.testing.assert_allclose(r_index(2.5 * images + 4.0, other), base, atol=1e-9)
    np.testing.assert_allclose(r_index(other, images), base, atol=1e-12)
    assert np.all((base >= 0) & (base <= 1))


def test_matches_the_formula_and_pearson(images: np.ndarray) -> None:
    y, y_hat = images[0].astype(np.float64), images[1].astype(np.float64)
    n = y.shape[0]
    z = ((y - y.mean()) / y.std()) * ((y_hat - y_hat.mean()) / y_hat.std())
    eq3 = 0.5 + z.sum() / (2 * n * n)
    assert r_index(y, y_hat) == pytest.approx(eq3, abs=1e-12)
    assert r_index(y, y_hat) == pytest.approx(
        0.5 + 0.5 * np.corrcoef(y.ravel(), y_hat.ravel())[0, 1], abs=1e-12
    )


def test_half_correlated_pixels_give_about_three_quarters() -> None:
    # review: R = 0.75 when 3/4 of the pixels are correlated and 1/4 anti-correlated
    rng = np.random.default_rng(1)
    y = rng.choice([-1.0, 1.0], size=(256, 256))
    y_hat = y.copy()
    flip = rng.random(y.shape) < 0.25
    y_hat[flip] *= -1
    assert r_index(y, y_hat) == pytest.approx(0.75, abs=0.01)


def test_torch_matches_numpy_and_keeps_leading_axes(images: np.ndarray) -> None:
    other = np.sqrt(images) + 0.1 * np.roll(images, 1, axis=0)
    ref = r_index(images[:, None], other[:, None])
    assert ref.shape == (5, 1)
    got = r_index(torch.from_numpy(images[:, None]), torch.from_numpy(other[:, None]))
    assert got.shape == (5, 1)
    np.testing.assert_allclose(got.numpy(), ref, atol=1e-6)


def test_shape_mismatch_is_an_error() -> None:
    with pytest.raises(ValueError, match="shapes differ"):
        r_index(np.zeros((4, 4)), np.zeros((4, 5)))
