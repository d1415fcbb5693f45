"""The embedded multi-view digits: views are real, distinct and informative."""

import numpy as np
from sklearn.cluster import KMeans
from sklearn.datasets import load_digits
from sklearn.metrics import adjusted_rand_score

from normgraph.datasets import load_digits_multiview


def test_shapes_and_labels():
    data = load_digits_multiview()
    assert [X.shape for X in data.views] == [(1797, 64), (1797, 32), (1797, 40), (1797, 32)]
    np.testing.assert_array_equal(data.target, load_digits().target)
    assert data.view_names == ["pixels", "gradient_hist", "fourier", "profile"]
    assert all(np.isfinite(X).all() and X.dtype == np.float64 for X in data.views)


def test_views_follow_their_definitions():
    data = load_digits_multiview()
    images = load_digits().images.astype(float)
    np.testing.assert_array_equal(data.views[0], images.reshape(-1, 64))
    # Fourier view: the DC coefficient is the total ink; magnitudes are shift invariant
    np.testing.assert_allclose(data.views[2][:, 0], images.sum(axis=(1, 2)))
    shifted = np.roll(images, 3, axis=2)
    np.testing.assert_allclose(np.abs(np.fft.rfft2(shifted)).reshape(-1, 40), data.views[2],
                               atol=1e-9)
    # Profile view: row sums, column sums, 4x4 block means
    np.testing.assert_allclose(data.views[3][:, :8], images.sum(axis=2))
    np.testing.assert_allclose(data.views[3][:, 8:16], images.sum(axis=1))
    np.testing.assert_allclose(data.views[3][:, 16], images[:, :2, :2].mean(axis=(1, 2)))
    # Gradient histograms: total weight per image equals the total gradient magnitude
    gy, gx = np.gradient(images, axis=(1, 2))
    np.testing.assert_allclose(data.views[1].sum(axis=1), np.hypot(gx, gy).sum(axis=(1, 2)))


def test_every_view_carries_class_information_and_differs():
    data = load_digits_multiview()
    labelings = []
    for X in data.views:
        Xs = (X - X.mean(0)) / (X.std(0) + 1e-12)
        labels = KMeans(10, n_init=3, random_state=0).fit_predict(Xs)
        assert adjusted_rand_score(data.target, labels) > 0.2
        labelings.append(labels)
    # the views are not copies of one another: their clusterings disagree somewhat
    for i in range(len(labelings)):
        for j in range(i + 1, len(labelings)):
            assert adjusted_rand_score(labelings[i], labelings[j]) < 0.95
