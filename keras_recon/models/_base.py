"""What every keras_recon model shares: encoder/decoder plumbing, the
reconstruction term, tracked loss terms and the researcher-facing methods."""

import keras
import numpy as np
from keras import ops

from keras_recon.likelihoods._scale import ScaledLikelihood
from keras_recon.likelihoods.adaptive_robust import AdaptiveRobust
from keras_recon.likelihoods.heavy_tailed import _LearnedScaleLikelihood
from keras_recon.losses.squared_error import SquaredError

# keras_recon's own likelihoods, which `_call_likelihood` calls directly.
_OWN_LIKELIHOODS = (ScaledLikelihood, AdaptiveRobust, _LearnedScaleLikelihood)


def kl_to_standard_normal(z_mean, z_log_var):
    """Analytic `KL(N(mu, exp(log_var)) || N(0, I))` per sample."""
    return 0.5 * ops.sum(
        ops.exp(z_log_var) + ops.square(z_mean) - 1.0 - z_log_var, axis=-1
    )


def replicas_in_sync():
    """Replicas of a `tf.distribute` strategy (1 elsewhere).

    Under `tf.distribute` on the TensorFlow backend each replica's loss is
    divided by the replica count before the gradients are summed, and Keras
    `Loss` objects do this division themselves. The models keep their
    terms unscaled (what the trackers report) and scale the total once.
    """
    if keras.backend.backend() != "tensorflow":
        return 1
    import tensorflow as tf

    return tf.distribute.get_strategy().num_replicas_in_sync


def finish_total(model, total):
    """Adds layer regularisation losses and scales for `tf.distribute`."""
    if model.losses:
        total = total + ops.sum(model.losses)
    replicas = replicas_in_sync()
    return total if replicas == 1 else total / replicas


def weighted_batch_mean(values, sample_weight):
    """Batch mean of per-sample values, weighted as Keras's default reduction."""
    if sample_weight is None:
        return ops.mean(values)
    weights = ops.cast(ops.reshape(sample_weight, (-1,)), values.dtype)
    return ops.sum(values * weights) / ops.cast(ops.shape(values)[0], values.dtype)


def _call_likelihood(layer, y, x_hat):
    """`layer(y, x_hat)`, going straight to `call` for keras_recon's own
    built likelihoods.

    They compute in float32 from whatever they are given, add no losses and
    take no `training` argument, so `Layer.__call__` (input casting, name
    scopes, autocast and build checks) does nothing for them here; on eager
    PyTorch it cost about 0.2 ms a step (`AdaptiveRobust` with its gradient
    on a `(100, 784)` batch 1.31 -> 1.10 ms, `Gaussian` 0.59 -> 0.39 ms).
    Any other layer, or one not built yet, is called as usual.
    """
    if layer.built and isinstance(layer, _OWN_LIKELIHOODS):
        return layer.call(y, x_hat)
    return layer(y, x_hat)


class LikelihoodOwner:
    """`compile` and `fit` for models whose likelihood layer holds state."""

    def _likelihood_owner(self):
        return self

    def compile(self, *args, **kwargs):
        """`keras.Model.compile`; a likelihood loss hands its state to the model.

        Compiling with `GaussianNLL(gamma="learned" or "computed")` makes the
        loss's `Gaussian` layer the model's `likelihood`, so gamma is a model
        variable (trained, balanced and saved with it). If the model already
        has a likelihood (e.g. rebuilt from a saved file), the loss is bound
        to that one instead, keeping its weights.
        """
        loss = kwargs.get("loss", args[1] if len(args) > 1 else None)
        inner = getattr(loss, "likelihood", None)
        if inner is not None and hasattr(loss, "owned_by_model"):
            owner = self._likelihood_owner()
            if owner.likelihood is not None and type(owner.likelihood) is type(inner):
                loss.likelihood = owner.likelihood
            else:
                owner.likelihood = inner
            loss.owned_by_model = True
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

        On the TensorFlow backend, NumPy arrays (`x`, `y` and a
        `validation_data` of one or two arrays) and an `ImageBatches`
        without a `transform` are batched by a `tf.data` pipeline that does
        not autotune, in the same order Keras's would take, when nothing
        else asks for Keras's own (`sample_weight`, `class_weight`,
        `validation_split`, `steps_per_epoch`, `shuffle="batch"`, or, for
        an `ImageBatches`, `shuffle=True` or worker threads or processes).
        Keras's autotuned pipelines made about one epoch in three wait
        0.2-2.7 s before its first batch on a 2-core machine, as their last
        iterator was torn down (`benchmarks/README.md`).
        """
        from keras_recon.callbacks.gamma_balancer import GammaBalancer
        from keras_recon.callbacks.gamma_balancer import computed_likelihoods
        from keras_recon.callbacks.gamma_balancer import restore_train_function

        callbacks = list(callbacks or [])
        if computed_likelihoods(self) and not any(isinstance(c, GammaBalancer) for c in callbacks):
            callbacks.append(GammaBalancer())
        from keras_recon.data import _tf_feed

        kwargs = _tf_feed.image_batches_unshuffled(args, kwargs)
        if keras.backend.backend() == "tensorflow":
            args, kwargs, feed_callbacks = _tf_feed.fit_arguments(args, kwargs)
            callbacks = feed_callbacks + callbacks
        try:
            return super().fit(*args, callbacks=callbacks, **kwargs)
        finally:
            # On JAX the balancer wraps the step function during `fit`; a fit
            # stopped by an exception must not leave the wrapper behind.
            restore_train_function(self)


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
    def reconstruction_loss(self, y, x_hat, sample_weight=None, loss=None):
        """Batch mean of the per-sample reconstruction term.

        Uses the likelihood layer if the model has one, else `loss` if given,
        else the compiled loss, else the squared error. Always float32, so
        that mixed-precision models sum their terms in float32.
        """
        return ops.cast(self._reconstruction_term(y, x_hat, sample_weight, loss), "float32")

    def _reconstruction_term(self, y, x_hat, sample_weight, loss):
        if self.likelihood is not None:
            return weighted_batch_mean(_call_likelihood(self.likelihood, y, x_hat), sample_weight)
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
    def decode(self, z):
        """Images (or vectors) from latent codes."""
        return self.decoder(ops.convert_to_tensor(z), training=False)

    def reconstruct(self, x, batch_size=None):
        """Deterministic reconstructions: decodes the posterior mean."""
        return self._batched(lambda b: self.decode(self._code(b)), x, batch_size)

    def interpolate(self, x1, x2, steps=10):
        """Decodes `steps` codes on the line from `x1`'s to `x2`'s code.

        `x1` and `x2` are single inputs (with or without a batch axis of 1);
        returns `steps` decoded images, the first and last being the two
        reconstructions (seed 000, appendix C).
        """
        if steps < 2:
            raise ValueError(f"Argument `steps` must be at least 2. Received: steps={steps}")
        z1, z2 = (self._code(self._one(x)) for x in (x1, x2))
        t = ops.reshape(ops.linspace(0.0, 1.0, steps), (steps, 1))
        return self.decode((1.0 - t) * z1 + t * z2)

    def _one(self, x):
        x = ops.convert_to_tensor(x)
        expected = len(self.encoder.inputs[0].shape) if hasattr(self.encoder, "inputs") else None
        if expected is not None and len(x.shape) == expected - 1:
            x = ops.expand_dims(x, 0)
        if x.shape[0] != 1:
            raise ValueError(f"`interpolate` takes single inputs; received shape {tuple(x.shape)}")
        return x

    def _batched(self, fn, x, batch_size):
        if batch_size is None:
            return fn(ops.convert_to_tensor(x))
        x = np.asarray(x)
        parts = [ops.convert_to_numpy(fn(ops.convert_to_tensor(x[i : i + batch_size])))
                 for i in range(0, len(x), batch_size)]
        return np.concatenate(parts)

    def _code(self, x):
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
