import math

import keras
import numpy as np
from keras import ops

from keras_recon.likelihoods._scale import as_float32_pair
from keras_recon.likelihoods._scale import flatten_samples
from keras_recon.likelihoods._scale import residual_shape_sum
from keras_recon.likelihoods.log_partition import log_partition
from keras_recon.likelihoods.representations import represent
from keras_recon.losses.general_robust import robust_rho


def _inverse_softplus(y):
    return y + math.log(-math.expm1(-y))


@keras.saving.register_keras_serializable(package="keras_recon")
class AdaptiveRobust(keras.layers.Layer):
    """Barron's adaptive robust likelihood: shape and scale learned with the model.

    Negative log-likelihood per element, summed over each sample:

    ```python
    nll = rho(y_pred - y_true, alpha, c) + log(c) + log_partition(alpha)
    alpha = alpha_lo + (alpha_hi - alpha_lo) * sigmoid(alpha_latent)
    c = scale_lo + softplus(scale_latent)
    ```

    `alpha = 2` is the Normal with standard deviation `c`, `alpha = 0` the
    Cauchy. Both latents are trainable, either one value shared by every
    element (`per_element=False`) or one per element of the sample shape
    (a per-pixel, per-channel alpha map). Setting `alpha_lo == alpha_hi`
    fixes alpha; `scale_lo == scale_init` fixes the scale.

    Example:

    ```python
    vae = VAE(encoder, decoder, likelihood=AdaptiveRobust(representation="dct", color="yuv"))
    vae.compile(optimizer="adam")
    vae.fit(x, epochs=...)
    alpha_map = vae.likelihood.alpha()     # one alpha per DCT coefficient
    ```

    Args:
        alpha_lo: Lower end of alpha. Defaults to `0.001`.
        alpha_hi: Upper end of alpha. Defaults to `1.999` (Barron's VAE
            used 0 and 3).
        alpha_init: Starting alpha. Defaults to `None`, the middle of the
            range.
        scale_lo: Lower end of the scale. Defaults to `1e-5`.
        scale_init: Starting scale. Defaults to `1.0`.
        per_element: One alpha and scale per element of the sample shape,
            rather than one shared pair. Defaults to `True`.
        representation: Model the image as `"pixels"`, its orthonormal 2-D
            `"dct"`, or its CDF 9/7 `"wavelet"` decomposition (images
            `(batch, h, w, c)`). Defaults to `"pixels"`.
        color: `"rgb"` or `"yuv"` (a volume-preserving YUV). Every
            representation has Jacobian determinant 1, so likelihoods stay
            comparable. Defaults to `"rgb"`.

    Reference:
        - [Barron, "A General and Adaptive Robust Loss Function", CVPR
          2019](https://arxiv.org/abs/1701.03077), section 3 and the VAE
          experiment.
    """

    def __init__(self, alpha_lo=0.001, alpha_hi=1.999, alpha_init=None, scale_lo=1e-5,
                 scale_init=1.0, per_element=True, representation="pixels", color="rgb",
                 **kwargs):
        # A likelihood computes in float32 under any global policy: mixed
        # precision must not autocast its scale and shape to float16.
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        if representation != "pixels" or color != "rgb":
            represent(np.zeros((1, 8, 8, 3), "float32"), representation, color)  # validates
        self.representation, self.color = representation, color
        if not 0.0 <= alpha_lo <= alpha_hi or not math.isfinite(alpha_hi):
            raise ValueError(
                "Need 0 <= alpha_lo <= alpha_hi < inf. Received: "
                f"alpha_lo={alpha_lo}, alpha_hi={alpha_hi}"
            )
        alpha_init = 0.5 * (alpha_lo + alpha_hi) if alpha_init is None else alpha_init
        if not alpha_lo <= alpha_init <= alpha_hi:
            raise ValueError(f"`alpha_init` must lie in [alpha_lo, alpha_hi]. Received: alpha_init={alpha_init}")
        if not 0.0 < scale_lo <= scale_init:
            raise ValueError(
                f"Need 0 < scale_lo <= scale_init. Received: scale_lo={scale_lo}, scale_init={scale_init}"
            )
        self.alpha_lo, self.alpha_hi, self.alpha_init = float(alpha_lo), float(alpha_hi), float(alpha_init)
        self.scale_lo, self.scale_init = float(scale_lo), float(scale_init)
        self.per_element = bool(per_element)

    def build(self, y_true_shape, y_pred_shape=None):
        shape = tuple(y_true_shape[1:]) if self.per_element else ()
        if self.alpha_lo < self.alpha_hi:
            fraction = (self.alpha_init - self.alpha_lo) / (self.alpha_hi - self.alpha_lo)
            fraction = min(max(fraction, 1e-6), 1 - 1e-6)
            self.alpha_latent = self.add_weight(
                name="alpha_latent", shape=shape,
                initializer=keras.initializers.Constant(math.log(fraction / (1 - fraction))),
            )
        if self.scale_lo < self.scale_init:
            self.scale_latent = self.add_weight(
                name="scale_latent", shape=shape,
                initializer=keras.initializers.Constant(_inverse_softplus(self.scale_init - self.scale_lo)),
            )
        self.built = True

    def alpha(self):
        if self.alpha_lo == self.alpha_hi:
            return ops.convert_to_tensor(self.alpha_lo)
        return self.alpha_lo + (self.alpha_hi - self.alpha_lo) * ops.sigmoid(self.alpha_latent)

    def scale(self):
        if self.scale_lo == self.scale_init:
            return ops.convert_to_tensor(self.scale_lo)
        return self.scale_lo + ops.softplus(self.scale_latent)

    def call(self, y_true, y_pred):
        y_true, y_pred = as_float32_pair(y_true, y_pred)
        if self.representation != "pixels" or self.color != "rgb":
            y_true = represent(y_true, self.representation, self.color)
            y_pred = represent(y_pred, self.representation, self.color)
        alpha, scale = self.alpha(), self.scale()
        y_true, y_pred, alpha, scale = flatten_samples(y_true, y_pred, alpha, scale)
        # alpha stays within [alpha_lo, alpha_hi]: only the special values of
        # rho inside that range need their own cases (none by default).
        specials = tuple(v for v in (0.0, 2.0) if self.alpha_lo <= v <= self.alpha_hi)
        # log Z depends on alpha alone: evaluated once per alpha (a scalar or
        # the sample-shaped map), not once per element of the batch.
        log_normaliser = ops.log(scale) + log_partition(alpha)
        return residual_shape_sum(robust_rho(y_pred - y_true, alpha, scale, specials) + log_normaliser)

    def get_config(self):
        config = super().get_config()
        config.update(
            alpha_lo=self.alpha_lo, alpha_hi=self.alpha_hi, alpha_init=self.alpha_init,
            scale_lo=self.scale_lo, scale_init=self.scale_init, per_element=self.per_element,
            representation=self.representation, color=self.color,
        )
        return config


def sample_general(alpha, scale=1.0, size=1, seed=None):
    """Draws from Barron's distribution for `alpha` in [0, 2], as NumPy.

    Rejection sampling from a Cauchy proposal: for `alpha >= 0`,
    `exp(-rho(x, alpha, 1)) <= 1 / (1 + x^2 / 2)`, the unnormalised Cauchy
    density of scale `sqrt(2)`, so a Cauchy draw is accepted with
    probability `exp(-rho(x, alpha, 1)) * (1 + x^2 / 2)`.
    """
    if not 0.0 <= alpha <= 2.0:
        raise ValueError(f"sample_general supports alpha in [0, 2]. Received: alpha={alpha}")
    rng = np.random.default_rng(seed)
    out = np.empty(0)
    while out.size < size:
        x = rng.standard_cauchy(2 * size) * math.sqrt(2.0)
        r = np.asarray(ops.convert_to_numpy(robust_rho(x.astype("float32"), float(alpha), 1.0)), "float64")
        accept = rng.uniform(size=x.size) < np.exp(-r) * (1.0 + 0.5 * x * x)
        out = np.concatenate([out, x[accept]])
    return scale * out[:size]
