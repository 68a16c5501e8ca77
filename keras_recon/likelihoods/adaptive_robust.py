import math

import keras
import numpy as np
from keras import ops

from keras_recon.likelihoods._scale import as_float32_pair
from keras_recon.likelihoods._scale import flatten_samples
from keras_recon.likelihoods._scale import residual_shape_sum
from keras_recon.likelihoods.log_partition import log_partition
from keras_recon.likelihoods.representations import represent
from keras_recon.losses._common import is_traced
from keras_recon.losses._common import tensorflow_eager
from keras_recon.losses._common import torch_eager_target_is_constant
from keras_recon.losses._common import xla_kernel
from keras_recon.losses.general_robust import _MAX_EXPONENT
from keras_recon.losses.general_robust import rho_of_tensor_alpha


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
        alpha_hi: Upper end of alpha. Defaults to `1.999` (seed 004's VAE
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
        # log Z depends on alpha alone: evaluate it once per alpha (a scalar or
        # the sample-shaped map), not once per element of the batch, and let
        # broadcasting spread it.
        # alpha stays within [alpha_lo, alpha_hi]: only the special values of
        # rho inside that range need their own cases (none by default).
        specials = tuple(v for v in (0.0, 2.0) if self.alpha_lo <= v <= self.alpha_hi)
        if not specials and _torch_eager_training(y_true, y_pred):
            return _torch_nll(y_true, y_pred, alpha, scale)

        def kernel(y_true, y_pred, alpha, scale):
            z = ops.square((y_pred - y_true) / scale)
            per_element = rho_of_tensor_alpha(z, alpha, specials) + (ops.log(scale) + log_partition(alpha))
            return residual_shape_sum(per_element)

        if tensorflow_eager(y_pred):
            return xla_kernel(("adaptive_robust_nll", specials), kernel, y_true, y_pred, alpha, scale)
        return kernel(y_true, y_pred, alpha, scale)

    def get_config(self):
        config = super().get_config()
        config.update(
            alpha_lo=self.alpha_lo, alpha_hi=self.alpha_hi, alpha_init=self.alpha_init,
            scale_lo=self.scale_lo, scale_init=self.scale_init, per_element=self.per_element,
            representation=self.representation, color=self.color,
        )
        return config


def _torch_eager_training(y_true, y_pred):
    """Eager PyTorch, `(batch, features)` inputs, no gradient asked of `y_true`."""
    return (
        keras.backend.backend() == "torch"
        and len(y_pred.shape) == 2
        and not is_traced(y_pred)
        and torch_eager_target_is_constant(y_true)
    )


def _torch_nll(y_true, y_pred, alpha, scale):
    """The per-sample NLL on eager PyTorch, `rho`'s gradients written out.

    For an alpha range without 0 and 2 (the default), per element, with
    `t` the residual, `b = |alpha - 2|`, `s = sign(alpha - 2)`,
    `w = (t / c)**2 / b`, `u = 1 + w`, `L = log1p(w)`,
    `E = expm1(alpha L / 2)`, `A = E + 1 = u**(alpha/2)` and `S = A / u`:

        rho          = (b / alpha) E
        d rho / dt   = S t / c**2
        d rho / dc   = -S t**2 / c**3
        d rho / dalpha = (2 s / alpha**2) E + (b / (2 alpha)) A L - (s / 2)(A - S)

    (the last term is `(s/2) S w`, and `S w = A - S`). The sums over the
    batch that the per-element maps need are matrix-vector products with
    the per-sample upstream gradient, and `rho`'s per-sample sum is one
    with `b / alpha`. Autodiff of `rho_of_tensor_alpha` made about forty
    passes over the batch (10-18x the squared error on a `(256, 64, 64, 3)`
    batch). `log c` and `log Z(alpha)` depend on the maps alone and stay
    with autodiff. Where the exponent reaches its cap (60) the value
    saturates and everything through the exponent gets no gradient, as
    autodiff of the capped form gives.
    """
    import torch

    features = y_pred.shape[1]
    alpha = alpha.expand(features) if alpha.ndim == 0 else alpha
    scale = scale.expand(features) if scale.ndim == 0 else scale

    @ops.custom_gradient
    def rho_sum(x, alpha, scale):
        gap = alpha - 2.0
        b, sign = gap.abs(), gap.sign()
        residual = torch.sub(x, y_true)
        u = torch.mul(residual, torch.rsqrt(b) / scale).square_()  # w
        log_u = torch.log1p(u)  # L
        exponent = log_u.mul(0.5 * alpha)
        capped = None
        if float(torch.amax(exponent)) >= _MAX_EXPONENT:
            capped = exponent >= _MAX_EXPONENT
            exponent.clamp_(max=_MAX_EXPONENT)
        e = exponent.expm1_()  # E
        value = torch.mv(e, b / alpha)
        u.add_(1.0)

        def grad(*args, upstream=None):
            if upstream is None:
                (upstream,) = args
            a = torch.add(e, 1.0)
            if capped is not None:
                a.masked_fill_(capped, 0.0)
            slope = torch.div(a, u)  # S
            st = torch.mul(slope, residual)
            inv_c2 = torch.square(torch.reciprocal(scale))
            dx = torch.mul(st, torch.outer(upstream, inv_c2))
            dscale = dalpha = None
            if scale.requires_grad:
                dscale = torch.mv(st.mul_(residual).T, upstream).mul_(-inv_c2 / scale)
            if alpha.requires_grad:
                e_sum = torch.mv(e.T, upstream)
                al_sum = torch.mv(torch.mul(a, log_u).T, upstream)
                a_sum, s_sum = torch.mv(a.T, upstream), torch.mv(slope.T, upstream)
                dalpha = (
                    (2.0 * sign / torch.square(alpha)) * e_sum
                    + (b / (2.0 * alpha)) * al_sum
                    - (0.5 * sign) * (a_sum - s_sum)
                )
            return dx, dalpha, dscale

        return value, grad

    per_element = ops.log(scale) + log_partition(alpha)
    return rho_sum(y_pred, alpha, scale) + ops.sum(per_element)


def sample_general(alpha, scale=1.0, size=1, seed=None):
    """Draws from Barron's distribution for `alpha` in [0, 2], in NumPy.

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
        z = x * x
        if alpha == 0.0:
            r = np.log1p(0.5 * z)
        elif alpha == 2.0:
            r = 0.5 * z
        else:
            b = abs(alpha - 2.0)
            r = b / alpha * np.expm1(0.5 * alpha * np.log1p(z / b))
        accept = rng.uniform(size=x.size) < np.exp(-r) * (1.0 + 0.5 * z)
        out = np.concatenate([out, x[accept]])
    return scale * out[:size]
