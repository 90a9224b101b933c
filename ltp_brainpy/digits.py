r"""Unsupervised learning of handwritten digits by a :class:`~ltp_brainpy.LayeredNetwork`.

The data are scikit-learn's bundled handwritten digits (:func:`sklearn.datasets.load_digits`:
1,797 images of 8 x 8 pixels, 16 grey levels), split once into 80 % training and 20 % test
images (stratified, ``random_state=0``). Pixels become Poisson rates of the input layer; the
hidden layer learns with the biophysical synapse and no labels. The readout is that of Diehl &
Cook (2015): after training, with learning off, each hidden unit is labelled with the class
whose training images it answers most (highest mean rate), and a test image is assigned the
class whose units answer it most (highest mean rate of the units of that class).

The same readout on the same split scores the network before training (its random initial
weights: the plasticity-off control) and k-means with as many centroids as hidden units (each
image answered by its nearest centroid); logistic regression on the raw pixels is the
supervised ceiling.

With top-down projections, the network also completes images: shown the upper half of a test
image, the hidden activity it evokes, read back through the top-down weights
(:math:`\hat x_i = \sum_j h_j w^{down}_{ji}`), reconstructs the hidden lower half.

References
----------
.. [1] Diehl, P. U., & Cook, M. (2015). Unsupervised learning of digit recognition using
       spike-timing-dependent plasticity. Front. Comput. Neurosci. 9, 99.
.. [2] Alpaydin, E., & Kaynak, C. (1998). Optical recognition of handwritten digits (UCI),
       the source of scikit-learn's digits.
"""
from __future__ import annotations

import importlib.util
import time

import numpy as np
import saiunit as u

from . import declare, simulate
from ._validate import ParameterError
from .network import LayeredNetwork
from .network_experiments import NETWORK_ARGUMENTS, pattern_correlation
from .results import ProtocolResult

__all__ = ['digit_images', 'label_units', 'classify', 'readout_accuracy', 'kmeans_responses',
           'logistic_accuracy', 'completion_correlation', 'input_cells', 'digits', 'N_CLASSES',
           'SIDE']

N_CLASSES = 10
SIDE = 8  # images are SIDE x SIDE pixels
TEST_FRACTION = 0.2
SPLIT_SEED = 0


def _sklearn():
    if importlib.util.find_spec('sklearn') is None:  # a dependency: one line if missing
        raise ParameterError('digits: needs scikit-learn (pip install scikit-learn)')


def digit_images():
    """The fixed split: ``(X_train, y_train, X_test, y_test)``, pixels scaled to [0, 1].

    1,437 training and 360 test images, stratified by class.
    """
    _sklearn()
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X / 16.0, y, test_size=TEST_FRACTION, random_state=SPLIT_SEED, stratify=y)
    return X_train, y_train, X_test, y_test


def label_units(responses, labels) -> np.ndarray:
    """Each unit's class: the class of the images it answers most on average.

    ``responses`` is (image, unit); a unit that never answers gets label -1.
    """
    responses, labels = np.asarray(responses, float), np.asarray(labels)
    means = np.stack([responses[labels == c].mean(axis=0) if np.any(labels == c)
                      else np.zeros(responses.shape[1]) for c in range(N_CLASSES)])
    unit_labels = means.argmax(axis=0)
    unit_labels[means.max(axis=0) <= 0] = -1
    return unit_labels


def classify(responses, unit_labels) -> np.ndarray:
    """Each image's class: the class whose units answer it most (mean over the units)."""
    responses = np.asarray(responses, float)
    scores = np.stack([responses[:, unit_labels == c].mean(axis=1) if np.any(unit_labels == c)
                       else np.full(len(responses), -np.inf) for c in range(N_CLASSES)], axis=1)
    return scores.argmax(axis=1)


def readout_accuracy(train_responses, y_train, test_responses, y_test):
    """Label units on the training responses, classify the test images:
    ``(accuracy, predictions)``."""
    predictions = classify(test_responses, label_units(train_responses, y_train))
    return float(np.mean(predictions == np.asarray(y_test))), predictions


def kmeans_responses(X_train, X_test, n_units: int, seed: int = 0):
    """k-means with ``n_units`` centroids as a layer of units: an image's answer is 1 from its
    nearest centroid and 0 from the others. Returns the (image, unit) answers to the training
    and test images, and the centroids."""
    _sklearn()
    from sklearn.cluster import KMeans

    km = KMeans(n_clusters=n_units, n_init=4, random_state=seed).fit(X_train)
    eye = np.eye(n_units)
    return eye[km.predict(X_train)], eye[km.predict(X_test)], km.cluster_centers_


def logistic_accuracy(X_train, y_train, X_test, y_test) -> float:
    """Test accuracy of logistic regression on the raw pixels (supervised)."""
    _sklearn()
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(max_iter=5000).fit(X_train, y_train)
    return float(model.score(X_test, y_test))


def completion_correlation(hidden_rates, w_down, images, missing) -> float:
    r"""Mean over images of corr(:math:`\hat x`, x) on the ``missing`` pixels, where
    :math:`\hat x = h\, W^{down}` is the hidden activity read back through the top-down
    weights (hidden x input)."""
    reconstruction = np.asarray(hidden_rates, float) @ np.asarray(w_down, float)
    return float(np.mean([pattern_correlation(r[missing], x[missing])
                          for r, x in zip(reconstruction, np.asarray(images))]))


def input_cells(on_off: bool):
    """The input layer's cells for images (image, pixel) in [0, 1]: the pixels (ink cells), and
    with ``on_off`` also their complements (background cells, like the OFF cells of the
    retina), so that a hidden unit can learn where a digit has no ink as well as where it has."""
    if on_off:
        return lambda X: np.concatenate([X, 1.0 - X], axis=1)
    return lambda X: np.asarray(X)


def _check_count(name, value, low, high):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) \
            or not low <= value <= high:
        raise ParameterError(f'digits: parameter {name!r} must be an integer in [{low}, {high}],'
                             f' got {value!r}')
    return int(value)


def digits(n_hidden=100, n_train=None, n_test=None, n_epochs=1, n_label=500, n_checkpoints=4,
           presentation=350.0 * u.ms, test_presentation=None, max_rate=40.0 * u.Hz, fan_in=500.0,
           feedback_fan_in=50.0, lateral_inhibition=1000.0 * u.nS,
           threshold_increment=0.1 * u.mV, tau_threshold=50.0 * u.second,
           synaptic_scaling=True, feedback=True, on_off=False, seed=0, dt=simulate.DEFAULT_DT,
           pbar=False, **params) -> ProtocolResult:
    r"""Learn the handwritten digits without labels; classify and complete them.

    A network ``[64, n_hidden]`` (top-down projections with ``feedback``) is shown the first
    ``n_train`` training images ``n_epochs`` times, each for ``presentation`` with learning
    on (activity reset between images). Then, with learning off, its hidden answers to the
    training images label the units and its answers to the test images are classified
    (:func:`readout_accuracy`); the same before training gives the plasticity-off control.
    At ``n_checkpoints - 1`` points during training (after ``1/2**k`` of the images) the
    accuracy is measured the same way with the units labelled on the first ``n_label``
    training images only.

    Parameters
    ----------
    n_hidden : int
        Hidden units.
    n_train, n_test : int, optional
        Training and test images used (default: all, 1,437 and 360).
    n_epochs : int
        Passes over the training images (the first in order, later ones shuffled).
    n_label : int
        Training images whose answers label the units at the checkpoints during training.
    n_checkpoints : int
        Test points: after ``1/2**k`` of the training images, k = n_checkpoints - 1 ... 0
        (the last is the final test).
    presentation : Quantity[ms]
        How long each image is shown during training.
    test_presentation : Quantity[ms], optional
        How long each image is shown to label the units and to test (default:
        ``presentation``); longer means less Poisson noise in the answers.
    max_rate : Quantity[Hz]
        Input rate of a black pixel.
    on_off : bool
        Give the input layer a second cell per pixel that fires for its background
        (:math:`1 - x`, like the OFF cells of the retina), so that a field can hold where a
        digit has no ink. On this data set it lowers the accuracy (``docs/network.md``).
    fan_in, feedback_fan_in, lateral_inhibition, threshold_increment, tau_threshold, synaptic_scaling, feedback
        Network options (:class:`~ltp_brainpy.LayeredNetwork`).
    **params
        Model parameter overrides (``theta_p``, ``gamma_p`` ...).

    Returns
    -------
    ProtocolResult
        conditions ``model`` = network, plasticity off, k-means, logistic regression, with
        ``accuracy`` in the summary; ``weight_change`` the mean absolute change of the
        bottom-up AMPA conductances relative to their mean (scaling keeps each unit's total);
        traces ``fields_before``/``fields_after`` (unit, 8, 8) in nS,
        ``confusion`` (true, predicted), ``checkpoint_images``/``checkpoint_accuracy``,
        ``training_rates`` (image, unit) in Hz, ``kmeans_centroids`` (unit, 8, 8), and the
        completion correlations.
    """
    X_train, y_train, X_test, y_test = digit_images()
    test_presentation = presentation if test_presentation is None else test_presentation
    n_train = _check_count('n_train', len(X_train) if n_train is None else n_train, 1,
                           len(X_train))
    n_test = _check_count('n_test', len(X_test) if n_test is None else n_test, 1, len(X_test))
    n_label = _check_count('n_label', min(n_label, n_train), 1, n_train)
    n_hidden = _check_count('n_hidden', n_hidden, 1, min(10_000, n_train))
    n_checkpoints = _check_count('n_checkpoints', n_checkpoints, 1, 12)
    n_epochs = _check_count('n_epochs', n_epochs, 1, 100)
    X_train, y_train = X_train[:n_train], y_train[:n_train]
    X_test, y_test = X_test[:n_test], y_test[:n_test]
    X_label, y_label = X_train[:n_label], y_train[:n_label]  # for the checkpoints
    rng = np.random.default_rng(seed)
    shown = np.concatenate([X_train] + [X_train[rng.permutation(n_train)]
                                        for _ in range(n_epochs - 1)])
    missing = np.arange(SIDE * SIDE) >= SIDE * SIDE // 2  # the lower half
    cells = input_cells(on_off)
    net = LayeredNetwork(
        [cells(X_test).shape[1], n_hidden], feedback=feedback, fan_in=fan_in,
        feedback_fan_in=feedback_fan_in, lateral_inhibition=lateral_inhibition,
        max_rate=max_rate, threshold_increment=threshold_increment,
        tau_threshold=tau_threshold, synaptic_scaling=synaptic_scaling, seed=seed, dt=dt,
        **params)

    def measure(X_label, y_label):
        """Accuracy, predictions and completion, learning off, units labelled on
        ``X_label``."""
        n_label = len(X_label)
        shown = [cells(X_label), cells(X_test)]
        if feedback:  # the lower half hidden: its cells silent
            shown.append(np.where(np.tile(missing, shown[1].shape[1] // missing.size), 0.0,
                                  shown[1]))
        shown = np.concatenate(shown)
        rates = np.asarray(net.evaluate(shown, presentation=test_presentation)
                           .rates[1].to_decimal(u.Hz))[0]
        label_rates, test_rates = rates[:n_label], rates[n_label:n_label + n_test]
        accuracy, predictions = readout_accuracy(label_rates, y_label, test_rates, y_test)
        completion = np.nan
        if feedback:
            w_down = np.asarray(net.weights()['down_01'].to_decimal(u.nS))[:, :SIDE * SIDE]
            completion = completion_correlation(rates[n_label + n_test:], w_down, X_test,
                                                missing)
        return accuracy, predictions, completion

    def fields():
        w = np.asarray(net.weights()['up_01'].to_decimal(u.nS))[:SIDE * SIDE]
        return w.T.reshape(n_hidden, SIDE, SIDE)

    start = time.perf_counter()
    fields_before = fields()
    accuracy_before, _, completion_before = measure(X_train, y_train)
    marks = sorted({max(1, round(len(shown) / 2 ** k)) for k in range(n_checkpoints)})
    checkpoint_accuracy, training_rates, done, train_seconds = [], [], 0, 0.0
    for mark in marks:
        if done:  # the accuracy during training, units labelled on the first n_label images
            checkpoint_accuracy.append(measure(X_label, y_label)[0])
        tic = time.perf_counter()
        record = net.train(cells(shown[done:mark]), 1, presentation=presentation)
        training_rates.append(np.asarray(record.rates[1].to_decimal(u.Hz))[0])
        train_seconds += time.perf_counter() - tic
        done = mark
    accuracy, predictions, completion = measure(X_train, y_train)
    fields_after = fields()
    network_seconds = time.perf_counter() - start
    checkpoint_accuracy = [accuracy_before] + checkpoint_accuracy + [accuracy]

    train_km, test_km, centroids = kmeans_responses(X_train, X_test, n_hidden, seed)
    kmeans_accuracy, _ = readout_accuracy(train_km, y_train, test_km, y_test)
    logistic = logistic_accuracy(X_train, y_train, X_test, y_test)
    confusion = np.zeros((N_CLASSES, N_CLASSES), int)
    np.add.at(confusion, (y_test, predictions), 1)

    models = np.array(['network', 'plasticity off', 'k-means', 'logistic regression'])
    accuracies = np.array([accuracy, accuracy_before, kmeans_accuracy, logistic])
    # Synaptic scaling keeps each unit's total: the change is in the pattern, so report the
    # mean absolute change relative to the mean conductance.
    w_change = np.abs(fields_after - fields_before).mean() / fields_before.mean()
    return ProtocolResult(
        'digits', {'model': models, 'n_hidden': n_hidden, 'n_train': n_train,
                   'n_test': n_test},
        np.array([w_change]),
        {'accuracy': accuracies,
         'fields_before': fields_before * u.nS, 'fields_after': fields_after * u.nS,
         'confusion': confusion, 'labels_test': y_test, 'predictions': predictions,
         'checkpoint_images': np.array([0] + marks),
         'checkpoint_accuracy': np.array(checkpoint_accuracy),
         'training_rates': np.concatenate(training_rates) * u.Hz,
         'kmeans_centroids': centroids.reshape(n_hidden, SIDE, SIDE),
         'completion': np.array([completion_before, completion])},
        {'accuracy': float(accuracy), 'accuracy_plasticity_off': float(accuracy_before),
         'accuracy_kmeans': float(kmeans_accuracy), 'accuracy_logistic': float(logistic),
         'completion_before': float(completion_before), 'completion_after': float(completion),
         'training_s': float(train_seconds), 'network_s': float(network_seconds)})


# --------------------------------------------------------------------------- figure, declaration
def _mosaic(fields, columns=None):
    """Up to 100 8 x 8 fields tiled into one image (a NaN gap between tiles)."""
    fields = np.asarray(fields, float)[:100]
    n = len(fields)
    columns = columns or int(np.ceil(np.sqrt(n)))
    rows = int(np.ceil(n / columns))
    tile = SIDE + 1
    out = np.full((rows * tile - 1, columns * tile - 1), np.nan)
    for k, f in enumerate(fields):
        r, c = divmod(k, columns)
        out[r * tile:r * tile + SIDE, c * tile:c * tile + SIDE] = f / max(f.max(), 1e-12)
    return out


def figure(runs):
    """Receptive fields before and after learning, k-means centroids, the confusion matrix,
    test accuracy against training images, and hidden rates during training."""
    import matplotlib.pyplot as plt

    label, r = runs[0]
    fig, axes = plt.subplots(2, 3, figsize=(13, 8.5))
    for ax, fields, title in (
            (axes[0, 0], r.fields_before.to_decimal(u.nS), 'receptive fields before'),
            (axes[0, 1], r.fields_after.to_decimal(u.nS), 'after learning (no labels)'),
            (axes[0, 2], r.kmeans_centroids, 'k-means centroids')):
        ax.imshow(_mosaic(fields), cmap='gray_r', interpolation='nearest')
        ax.set_title(title + (' (first 100)' if len(fields) > 100 else ''))
        ax.axis('off')
    ax = axes[1, 0]
    ax.imshow(r.confusion, cmap='Blues')
    for (i, j), n in np.ndenumerate(r.confusion):
        if n:
            ax.text(j, i, str(n), ha='center', va='center', fontsize=7,
                    color='w' if n > r.confusion.max() / 2 else 'k')
    ax.set(title=f'{label}: test confusion ({100 * r.summary["accuracy"]:.1f} %)',
           xlabel='predicted', ylabel='true', xticks=range(N_CLASSES), yticks=range(N_CLASSES))
    ax = axes[1, 1]
    ax.plot(r.checkpoint_images, 100 * r.checkpoint_accuracy, 'o-', color='C3',
            label='network')
    for key, name, style in (('accuracy_kmeans', 'k-means', '--'),
                             ('accuracy_logistic', 'logistic regression (supervised)', ':')):
        ax.axhline(100 * r.summary[key], color='0.4', ls=style, label=name)
    ax.set(title='test accuracy', xlabel='training images shown', ylabel='accuracy (%)',
           ylim=(0, 100))
    ax.legend(fontsize=8, loc='lower right')
    ax = axes[1, 2]
    rates = np.asarray(r.training_rates.to_decimal(u.Hz))
    window = max(1, len(rates) // 50)
    kernel = np.ones(window) / window
    for values, name in ((rates.mean(axis=1), 'mean over units'),
                         (rates.max(axis=1), 'most active unit')):
        ax.plot(np.convolve(values, kernel, mode='valid'), label=name)
    ax.set(title='hidden rates during training', xlabel='image', ylabel='rate (Hz)')
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def _check(args, model, dt, where):
    n_hidden = args['n_hidden']
    inputs = SIDE * SIDE * (2 if args['on_off'] else 1)
    if n_hidden * inputs * 2 > declare.MAX_SYNAPSES:
        raise ParameterError(f"{where}: parameter 'n_hidden' expected at most "
                             f'{declare.MAX_SYNAPSES // (2 * inputs):,}, got {n_hidden:,}')
    n_train = args['n_train'] or 1437
    n_test = args['n_test'] or 360
    if n_hidden > n_train:
        raise ParameterError(f"{where}: parameter 'n_hidden' expected at most n_train "
                             f'({n_train}: k-means needs an image per centroid), got {n_hidden}')
    shown = args['n_epochs'] * n_train
    tests = (2 * (n_train + 2 * n_test)
             + (args['n_checkpoints'] - 1) * (min(args['n_label'], n_train) + 2 * n_test))
    length = (shown * float(args['presentation'].to_decimal(u.ms))
              + tests * float((args['test_presentation'] or args['presentation'])
                              .to_decimal(u.ms)))
    return length, 'n_epochs x n_train x presentation + checkpoints x test presentations'


_A = declare.Argument
declare.protocol(
    'digits', figure=figure, check=_check,
    arguments=dict(
        n_hidden=_A(int, 'hidden units'),
        n_train=_A(int, 'training images used (default all, 1437)'),
        n_test=_A(int, 'test images used (default all, 360)'),
        n_epochs=_A(int, 'passes over the training images'),
        n_label=_A(int, 'training images whose answers label the units'),
        n_checkpoints=_A(int, 'test points during training'),
        presentation=_A(u.ms, 'how long an image is shown in training', positive=True,
                        step=True),
        test_presentation=_A(u.ms, 'how long an image is shown to label and test',
                             positive=True, step=True),
        feedback=_A(bool, 'top-down projections (needed for completion)'),
        on_off=_A(bool, 'input cells for the background as well as for the ink'),
        **{key: NETWORK_ARGUMENTS[key] for key in (  # defaults: this function's
            'max_rate', 'fan_in', 'feedback_fan_in', 'lateral_inhibition',
            'threshold_increment', 'tau_threshold', 'synaptic_scaling')}))(digits)
