import keras
from keras import ops

from keras_recon.models._base import ReconModel
from keras_recon.models._base import finish_total
from keras_recon.models._base import to_numpy
from keras_recon.models.vae import split_gaussian

IMQ_SCALES = (0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0)


def mmd_imq(z, prior_z, prior_scale=1.0, scales=IMQ_SCALES):
    """Unbiased MMD^2 with the inverse multiquadratic kernel over scales.

    Formula (Tolstikhin et al. 2018):

    ```python
    k_C(a, b) = C / (C + |a - b|^2),  C = 2 * d * prior_scale^2 * s
    mmd = sum_s [ sum_{i != j} (k(z_i, z_j) + k(p_i, p_j)) / (n (n - 1))
                  - 2 * sum_{i, j} k(z_i, p_j) / n^2 ]
    ```

    Args:
        z: Codes of a batch, `(n, d)`.
        prior_z: As many prior samples, `(n, d)`.
        prior_scale: Standard deviation of the Gaussian prior. Defaults to 1.
        scales: The multipliers `s`. Defaults to (0.1, 0.2, 0.5, 1, 2, 5, 10).

    Returns:
        A scalar.
    """
    n = ops.cast(ops.shape(z)[0], z.dtype)
    d = z.shape[-1]

    def sq_dist(a, b):
        # The expanded form can round below zero for large codes; a negative
        # distance near -C would blow the kernel up, so clamp at 0.
        return ops.maximum(
            ops.sum(ops.square(a), axis=1, keepdims=True)
            + ops.transpose(ops.sum(ops.square(b), axis=1, keepdims=True))
            - 2.0 * ops.matmul(a, ops.transpose(b)),
            0.0,
        )

    d_qq, d_pp, d_qp = sq_dist(z, z), sq_dist(prior_z, prior_z), sq_dist(z, prior_z)
    off_diagonal = 1.0 - ops.eye(ops.shape(z)[0], dtype=z.dtype)
    total = 0.0
    for s in scales:
        c = 2.0 * d * prior_scale**2 * s
        same = ops.sum((c / (c + d_qq) + c / (c + d_pp)) * off_diagonal) / (n * (n - 1.0))
        cross = ops.sum(c / (c + d_qp)) / (n * n)
        total = total + same - 2.0 * cross
    return total


@keras.saving.register_keras_serializable(package="keras_recon")
class WAE(ReconModel):
    """Wasserstein autoencoder with the MMD penalty (WAE-MMD).

    Objective over a batch (Tolstikhin et al. 2018, as used by Chen et al.):

    ```python
    loss = reconstruction_weight * mean_i recon(x_i, decoder(z_i)) + mmd_weight * MMD(z, prior)
    ```

    with `MMD` the unbiased inverse-multiquadratic estimate of `mmd_imq`
    between the batch's codes and as many N(0, I) samples. The encoder is
    deterministic, or Gaussian with `gaussian_encoder=True` (then codes are
    sampled and the encoder returns `2 * latent_dim` values). `fit` tracks
    `reconstruction`, `mmd` and the total `loss`.

    Example:

    ```python
    encoder, decoder = architectures.mlp((28, 28, 1), 8, gaussian=False)
    wae = WAE(encoder, decoder, mmd_weight=10.0)
    wae.compile(optimizer="adam", loss=LogCosh(a=100))
    ```

    Args:
        encoder: Model from inputs to codes (or to `2 * latent_dim` values
            when `gaussian_encoder=True`).
        decoder: Model from codes to inputs.
        mmd_weight: The WAE's lambda: 10 on MNIST, 100 on CelebA in the WAE
            paper. Defaults to `10.0`.
        gaussian_encoder: Whether codes are sampled from a Gaussian encoder.
            Defaults to `False`.
        log_var_penalty: With a Gaussian encoder, weight of the penalty
            `mean |log sigma^2|` (the WAE paper's remedy). Without it the
            MMD lets the posterior variance grow without bound; we measured
            log-variances climbing past 20 within two epochs on MNIST.
            Log-variances are also clipped to [-30, 20] so the sample
            cannot overflow. Defaults to `0.0`.
        likelihood: Optional layer `likelihood(y, x_hat)`. Defaults to `None`.
        reconstruction_weight: Multiplies the reconstruction term.
            Defaults to `1.0`.
        seed: Seed of the prior (and encoder) noise. Defaults to `None`.
    """

    def __init__(self, encoder, decoder, mmd_weight=10.0, gaussian_encoder=False,
                 log_var_penalty=0.0, likelihood=None, reconstruction_weight=1.0,
                 seed=None, **kwargs):
        super().__init__(encoder, decoder, likelihood, reconstruction_weight, **kwargs)
        if mmd_weight < 0:
            raise ValueError(f"Argument `mmd_weight` must be non-negative. Received: mmd_weight={mmd_weight}")
        self.mmd_weight = float(mmd_weight)
        self.gaussian_encoder = bool(gaussian_encoder)
        self.log_var_penalty = float(log_var_penalty)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.mmd_tracker = keras.metrics.Mean(name="mmd")

    def call(self, x, training=None):
        encoded = self.encoder(x, training=training)
        if not self.gaussian_encoder:
            return {"reconstruction": self.decoder(encoded, training=training), "z": encoded}
        z_mean, z_log_var = split_gaussian(encoded)
        z_log_var = ops.clip(z_log_var, -30.0, 20.0)
        eps = keras.random.normal(ops.shape(z_mean), seed=self.seed_generator, dtype=z_mean.dtype)
        z = z_mean + ops.exp(0.5 * z_log_var) * eps
        return {"reconstruction": self.decoder(z, training=training), "z": z, "z_log_var": z_log_var}

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        y = x if y is None else y
        # Trackers weigh each batch by its size, as Keras's own loss tracker.
        batch = ops.shape(y)[0]
        # The MMD's pairwise distances in float32 under mixed precision.
        z = ops.cast(y_pred["z"], "float32")
        reconstruction = self.reconstruction_loss(y, y_pred["reconstruction"], sample_weight, training=training)
        prior = keras.random.normal(ops.shape(z), seed=self.seed_generator, dtype=z.dtype)
        mmd = mmd_imq(z, prior)
        self.reconstruction_tracker.update_state(reconstruction, sample_weight=batch)
        self.mmd_tracker.update_state(mmd, sample_weight=batch)
        total = self.reconstruction_weight * reconstruction + self.mmd_weight * mmd
        if self.gaussian_encoder and self.log_var_penalty:
            total = total + self.log_var_penalty * ops.mean(ops.abs(ops.cast(y_pred["z_log_var"], "float32")))
        return finish_total(self, total)

    @property
    def latent_dim(self):
        return self.decoder.inputs[0].shape[-1]

    def encode(self, x):
        """Deterministic codes, the encoder's output (its mean if Gaussian),
        as a NumPy array."""
        return to_numpy(self._code(x))

    def _code(self, x):
        encoded = self.encoder(ops.convert_to_tensor(x), training=False)
        return split_gaussian(encoded)[0] if self.gaussian_encoder else encoded

    def sample(self, n, seed=None):
        """Decodes `n` codes drawn from the N(0, I) prior (a NumPy array)."""
        return self.decode(keras.random.normal((int(n), self.latent_dim), seed=seed))

    def get_config(self):
        config = super().get_config()
        config.update(
            mmd_weight=self.mmd_weight,
            gaussian_encoder=self.gaussian_encoder,
            log_var_penalty=self.log_var_penalty,
            seed=self.seed,
        )
        return config
