"""What every keras_recon model shares: encoder/decoder plumbing, the
reconstruction term, tracked loss terms and the researcher-facing methods."""

import keras
import numpy as np
from keras import ops

from keras_recon.backend import replicas_in_sync
from keras_recon.likelihoods.gaussian import Gaussian
from keras_recon.losses.gaussian_nll import GaussianNLL
from keras_recon.losses.squared_error import SquaredError


def kl_to_standard_normal(z_mean, z_log_var):
    """Analytic `KL(N(mu, exp(log_var)) || N(0, I))` per sample."""
    return 0.5 * ops.sum(
        ops.exp(z_log_var) + ops.square(z_mean) - 1.0 - z_log_var, axis=-1
    )


def finish_total(model, total):
    """Adds layer regularisation losses and scales for `tf.distribute`."""
    if model.losses:
        total = total + ops.sum(model.losses)
    replicas = replicas_in_sync()
    return total if replicas == 1 else total / replicas


def to_numpy(outputs):
    """NumPy arrays of a tensor or a tuple of tensors, with no gradient
    attached: what the inference methods return, as `Model.predict` does."""
    return keras.tree.map_structure(ops.convert_to_numpy, outputs)


def weighted_batch_mean(values, sample_weight):
    """Batch mean of per-sample values, weighted as Keras's default reduction."""
    if sample_weight is None:
        return ops.mean(values)
    weights = ops.cast(ops.reshape(sample_weight, (-1,)), values.dtype)
    return ops.sum(values * weights) / ops.cast(ops.shape(values)[0], values.dtype)


class LikelihoodOwner:
    """`compile` and `fit` for models whose likelihood layer holds state."""

    def _likelihood_owner(self):
        return self

    def compile(self, *args, **kwargs):
        """`keras.Model.compile`; a likelihood loss hands its state to the model.

        Compiling with `GaussianNLL(...)` gives the model a `Gaussian` layer
        of the loss's gamma as its `likelihood`, so that a learned or
        computed gamma is a model variable (trained, balanced and saved with
        it), and the loss computes through that layer. If the model already
        has a `Gaussian` likelihood (e.g. rebuilt from a saved file), the
        loss is bound to that one instead, keeping its weights.
        """
        loss = kwargs.get("loss", args[1] if len(args) > 1 else None)
        if isinstance(loss, GaussianNLL):
            owner = self._likelihood_owner()
            if not isinstance(owner.likelihood, Gaussian):
                owner.likelihood = Gaussian(loss.gamma, loss.initial_scale)
            loss.likelihood = owner.likelihood
        super().compile(*args, **kwargs)

    def compile_from_config(self, config):
        # Keras skips models whose `compile` is overridden; ours only adds
        # the likelihood hand-over, so restore the compiled state as usual.
        config = keras.saving.deserialize_keras_object(config)
        self.compile(**config)
        if getattr(self, "optimizer", None) is not None and self.built:
            self.optimizer.build(self.trainable_variables)

    def fit(self, *args, callbacks=None, **kwargs):
        """`keras.Model.fit`, adding `GammaBalancer` when a scale is computed.

        A `data.ImageBatches` is read in its own order: `shuffle` defaults
        to `False` for it, since Keras would otherwise reorder its batches
        with Python's `random`.
        """
        from keras_recon.callbacks.gamma_balancer import GammaBalancer
        from keras_recon.callbacks.gamma_balancer import computed_likelihoods
        from keras_recon.data.batches import fit_keyword_arguments

        callbacks = list(callbacks or [])
        if computed_likelihoods(self) and not any(isinstance(c, GammaBalancer) for c in callbacks):
            callbacks.append(GammaBalancer())
        return super().fit(*args, callbacks=callbacks, **fit_keyword_arguments(args, kwargs))


class ReconModel(LikelihoodOwner, keras.Model):
    """Base class: an encoder, a decoder and a reconstruction term.

    The reconstruction term is the compiled loss (`compile(loss=LogCosh(a=100))`)
    or, when given, a `likelihood` layer called as `likelihood(y, x_hat)` that
    returns one negative log-likelihood per sample. Training targets default
    to the inputs, so `fit(x)` trains an autoencoder; `fit(x_noisy, x_clean)`
    trains a denoising one.
    """

    def __init__(self, encoder, decoder, likelihood=None, reconstruction_weight=1.0, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(encoder, keras.layers.Layer) or not isinstance(decoder, keras.layers.Layer):
            raise ValueError("`encoder` and `decoder` must be Keras layers or models")
        self.encoder = encoder
        self.decoder = decoder
        self.likelihood = likelihood
        self.reconstruction_weight = float(reconstruction_weight)
        self.reconstruction_tracker = keras.metrics.Mean(name="reconstruction")
        self._default_loss = SquaredError()

    def build(self, input_shape):
        # The likelihood is only called in `compute_loss`; create its
        # variables (e.g. a per-pixel alpha map) here, before any compiled
        # step, from the reconstruction's shape.
        if not self.encoder.built:
            self.encoder.build(input_shape)
        if self.likelihood is not None and not self.likelihood.built:
            shape = getattr(self.decoder, "output_shape", None) or tuple(input_shape)
            self.likelihood.build(shape, shape)
        self.built = True

    # -- the reconstruction term --------------------------------------------
    def reconstruction_loss(self, y, x_hat, sample_weight=None, loss=None, training=False):
        """Batch mean of the per-sample reconstruction term.

        Uses the likelihood layer if the model has one (called with
        `training`, under which a computed scale advances), else `loss` if
        given, else the compiled loss, else the squared error. Always
        float32, so that mixed-precision models sum their terms in float32.
        """
        return ops.cast(self._reconstruction_term(y, x_hat, sample_weight, loss, training), "float32")

    def _reconstruction_term(self, y, x_hat, sample_weight, loss, training):
        if self.likelihood is not None:
            return weighted_batch_mean(self.likelihood(y, x_hat, training=training), sample_weight)
        loss = self.loss if loss is None else loss
        if loss is None:
            loss = self._default_loss
        elif isinstance(loss, str):
            loss = keras.losses.get(loss)
        if isinstance(loss, (list, tuple, dict)) or not callable(loss):
            raise ValueError(
                f"{type(self).__name__} takes one reconstruction loss; received loss={loss!r}"
            )
        if isinstance(loss, keras.losses.Loss):
            # Keras losses divide by the replica count under tf.distribute;
            # undo it so every term here is on the same, unscaled footing.
            return loss(y, x_hat, sample_weight=sample_weight) * replicas_in_sync()
        # A plain function such as "mse": reduce it as a Loss would.
        values = loss(y, x_hat)
        if len(values.shape) > 1:
            values = ops.mean(values, axis=tuple(range(1, len(values.shape))))
        return weighted_batch_mean(values, sample_weight)

    # -- researcher-facing methods ------------------------------------------
    # Inference only: like `Model.predict`, they return NumPy arrays, which
    # carry no gradient and live on the host on every backend. Inside,
    # codes stay tensors (`_code`, `_decode`) from the encoder to the decoder.
    def decode(self, z):
        """Images (or vectors) from latent codes, as a NumPy array."""
        return to_numpy(self._decode(z))

    def _decode(self, z):
        return self.decoder(ops.convert_to_tensor(z), training=False)

    def reconstruct(self, x, batch_size=None):
        """Deterministic reconstructions (the decoded posterior mean), as a
        NumPy array; `batch_size` bounds the images decoded at once."""
        x = ops.convert_to_numpy(x)
        step = max(len(x), 1) if batch_size is None else int(batch_size)
        if step < 1:
            raise ValueError(f"Argument `batch_size` must be at least 1. Received: batch_size={batch_size}")
        return np.concatenate([to_numpy(self._decode(self._code(x[i : i + step])))
                               for i in range(0, len(x), step)])

    def interpolate(self, x1, x2, steps=10):
        """Decodes `steps` codes on the line from `x1`'s to `x2`'s code.

        `x1` and `x2` are single inputs (with or without a batch axis of 1);
        returns `steps` decoded images as a NumPy array, the first and last
        being the two reconstructions (Chen et al., appendix C).
        """
        if steps < 2:
            raise ValueError(f"Argument `steps` must be at least 2. Received: steps={steps}")
        z1, z2 = (self._code(self._one(x)) for x in (x1, x2))
        t = ops.cast(ops.reshape(ops.linspace(0.0, 1.0, steps), (steps, 1)), z1.dtype)
        return to_numpy(self._decode((1.0 - t) * z1 + t * z2))

    def _one(self, x):
        x = ops.convert_to_tensor(x)
        expected = len(self.encoder.inputs[0].shape) if hasattr(self.encoder, "inputs") else None
        if expected is not None and len(x.shape) == expected - 1:
            x = ops.expand_dims(x, 0)
        if x.shape[0] != 1:
            raise ValueError(f"`interpolate` takes single inputs; received shape {tuple(x.shape)}")
        return x

    def _code(self, x):
        """The deterministic codes of `x`, as a tensor."""
        raise NotImplementedError

    # -- serialisation --------------------------------------------------------
    def get_config(self):
        config = super().get_config()
        config.update(
            encoder=keras.saving.serialize_keras_object(self.encoder),
            decoder=keras.saving.serialize_keras_object(self.decoder),
            likelihood=(
                None if self.likelihood is None
                else keras.saving.serialize_keras_object(self.likelihood)
            ),
            reconstruction_weight=self.reconstruction_weight,
        )
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("encoder", "decoder", "likelihood"):
            if config.get(key) is not None:
                config[key] = keras.saving.deserialize_keras_object(config[key])
        return cls(**config)
