import math

import keras
import numpy as np
from keras import ops

from keras_recon.likelihoods._scale import as_float32_pair
from keras_recon.likelihoods._scale import flatten_samples
from keras_recon.likelihoods._scale import residual_shape_sum
from keras_recon.likelihoods.log_partition import log_partition
from keras_recon.likelihoods.log_partition import torch_log_partition_and_slope
from keras_recon.likelihoods.representations import represent
from keras_recon.losses._common import is_traced
from keras_recon.losses._common import tensorflow_eager
from keras_recon.losses._common import torch_eager_target_is_constant
from keras_recon.losses._common import xla_kernel
from keras_recon.losses.general_robust import _EPS
from keras_recon.losses.general_robust import _MAX_EXPONENT
from keras_recon.losses.general_robust import _RESIDUAL_LIMIT
from keras_recon.losses.general_robust import rho_of_tensor_alpha
from keras_recon.losses.general_robust import scaled_square


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
        # alpha stays within [alpha_lo, alpha_hi]: only the special values of
        # rho inside that range need their own cases (none by default).
        specials = tuple(v for v in (0.0, 2.0) if self.alpha_lo <= v <= self.alpha_hi)
        # Which form computes the sum, chosen here once: written-out
        # gradients where no special value is in range (in-place torch in
        # PyTorch's eager training, `_rho_sums` on JAX and TensorFlow), else
        # autodiff of `rho_of_tensor_alpha`.
        if not specials and _torch_eager_training(y_true, y_pred):
            return _torch_nll(self, y_true, y_pred)
        alpha, scale = self.alpha(), self.scale()
        y_true, y_pred, alpha, scale = flatten_samples(y_true, y_pred, alpha, scale)
        written = (
            not specials and keras.backend.backend() != "torch" and len(y_pred.shape) == 2
            and len(alpha.shape) <= 1 and len(scale.shape) <= 1
        )
        # log Z depends on alpha alone: evaluate it once per alpha (a scalar or
        # the sample-shaped map), not once per element of the batch, and let
        # broadcasting spread it.

        def kernel(y_true, y_pred, alpha, scale):
            if written:
                log_terms = ops.log(scale) + log_partition(alpha)
                if len(log_terms.shape):
                    log_terms = ops.sum(log_terms)
                else:  # one shared alpha and scale: once per element
                    log_terms = log_terms * ops.cast(ops.shape(y_pred)[1], log_terms.dtype)
                return _rho_sums(y_true, y_pred, alpha, scale) + log_terms
            z = scaled_square(y_pred - y_true, scale)
            per_element = rho_of_tensor_alpha(z, alpha, specials) + (ops.log(scale) + log_partition(alpha))
            return residual_shape_sum(per_element)

        if tensorflow_eager(y_pred):
            return xla_kernel(("adaptive_robust_nll", specials, written), kernel, y_true, y_pred, alpha, scale)
        return kernel(y_true, y_pred, alpha, scale)

    def get_config(self):
        config = super().get_config()
        config.update(
            alpha_lo=self.alpha_lo, alpha_hi=self.alpha_hi, alpha_init=self.alpha_init,
            scale_lo=self.scale_lo, scale_init=self.scale_init, per_element=self.per_element,
            representation=self.representation, color=self.color,
        )
        return config


def _rho_sums(y_true, y_pred, alpha, scale):
    """Per-sample sums of `rho` over a `(batch, features)` pair, for an
    alpha and a scale of shape `(features,)` or `()` whose range holds
    neither 0 nor 2, with the gradient in `y_pred`, alpha and the scale
    written out (the formulas are `_torch_nll`'s; `keras.ops`, for JAX and
    TensorFlow, compiled or in eager TensorFlow's XLA kernel). `y_true`'s
    gradient is minus `y_pred`'s (XLA drops it where it is not asked for).

    Autodiff of `rho_of_tensor_alpha` under `jax.jit` kept about nine
    full-size arrays and ran five full-size reductions; here the backward
    pass reuses the forward's `log1p` and `expm1`, and two sums over the
    batch serve alpha's three terms and the scale: 11-30% less time than
    autodiff under `jax.jit`, 14-21% under TensorFlow's XLA on large
    batches and 6-9% more on a `(100, 784)` one (`benchmarks/loss_kernels.py`;
    as vector-matrix products, those sums made TensorFlow's XLA 2.7x slower
    than autodiff). `|alpha - 2|` and
    `alpha` are floored at float32's epsilon as in `rho_of_tensor_alpha`
    (which `AdaptiveRobust` keeps for ranges holding 0 or 2). Where the
    exponent reaches its cap the value saturates and nothing gets a
    gradient through it, as autodiff of the capped form gives.
    """

    @ops.custom_gradient
    def rho_sums(x, target, alpha, scale):
        residual = x - target
        gap = alpha - 2.0
        b, sign = ops.maximum(ops.abs(gap), _EPS), ops.sign(gap)
        safe_alpha = ops.maximum(alpha, _EPS)
        w = scaled_square(residual, scale) / b
        log_u = ops.log1p(w)
        exponent = (0.5 * safe_alpha) * log_u
        e = ops.expm1(ops.minimum(exponent, _MAX_EXPONENT))
        value = ops.sum(e * (b / safe_alpha), axis=1)

        def grad(*args, upstream=None):
            if upstream is None:
                (upstream,) = args
            a = ops.where(exponent < _MAX_EXPONENT, e + 1.0, 0.0)  # u**(alpha/2)
            slope = a / (1.0 + w)  # S
            sw = a - slope  # S w
            per_sample = ops.expand_dims(upstream, 1)
            dx = slope * residual * (per_sample / ops.square(scale))
            alpha_terms = ((2.0 * sign) / ops.square(safe_alpha)) * e + (b / (2.0 * safe_alpha)) * (a * log_u) \
                - (0.5 * sign) * sw
            dalpha = ops.sum(per_sample * alpha_terms, axis=0)
            dscale = -(b / scale) * ops.sum(per_sample * sw, axis=0)
            if not len(alpha.shape):
                dalpha = ops.sum(dalpha)
            if not len(scale.shape):
                dscale = ops.sum(dscale)
            return dx, -dx, dalpha, dscale

        return value, grad

    return rho_sums(y_pred, y_true, alpha, scale)


def _torch_eager_training(y_true, y_pred):
    """Eager PyTorch, batched inputs, no gradient asked of `y_true`."""
    return (
        keras.backend.backend() == "torch"
        and len(y_pred.shape) >= 2
        and not is_traced(y_pred)
        and torch_eager_target_is_constant(y_true)
    )


def _torch_nll(layer, y_true, y_pred):
    """The per-sample NLL on eager PyTorch, every gradient written out.

    For an alpha range without 0 and 2 (the default), per element, with
    `t` the residual, `b = |alpha - 2|`, `s = sign(alpha - 2)`,
    `w = (t / c)**2 / b`, `u = 1 + w`, `L = log1p(w)`,
    `E = expm1(alpha L / 2)`, `A = E + 1 = u**(alpha/2)` and `S = A / u`:

        rho          = (b / alpha) E
        d rho / dt   = S t / c**2
        d rho / dc   = -S t**2 / c**3 = -(b / c) S w
        d rho / dalpha = (2 s / alpha**2) E + (b / (2 alpha)) A L - (s / 2) S w

    with `S w = A - S`, so that the scale and alpha share one sum. The sums
    over the batch that the per-element maps need are matrix-vector
    products with the per-sample upstream gradient, and `rho`'s per-sample
    sum is one with `b / alpha`. `log c + log Z(alpha)` is added to every
    sample inside the same gradient (`d/dc = 1/c`; `log Z`'s slope from
    `torch_log_partition_and_slope`), and alpha and c are computed from the
    layer's latents here too (`sigmoid' = s (1 - s)`, `softplus' =
    sigmoid`), so autograd records one node. Autodiff of
    `rho_of_tensor_alpha` made about forty passes over the batch (10-18x
    the squared error on a `(256, 64, 64, 3)` batch), and on a `(100, 784)`
    batch autodiff of `log_partition`'s and the latents' `keras.ops` cost
    more than `rho`. Where the exponent reaches its cap (60) the value
    saturates and everything through the exponent gets no gradient, as
    autodiff of the capped form gives.
    """
    import torch

    batch = y_pred.shape[0]
    y_true, y_pred = torch.reshape(y_true, (batch, -1)), torch.reshape(y_pred, (batch, -1))
    features = y_pred.shape[1]
    alpha_latent = layer.alpha_latent.value if layer.alpha_lo < layer.alpha_hi else None
    scale_latent = layer.scale_latent.value if layer.scale_lo < layer.scale_init else None

    def expanded(latent):
        return torch.reshape(latent, (-1,)).expand(features)

    def to_latent(grad, latent):
        if grad is None:
            return None
        return torch.reshape(grad.sum() if latent.ndim == 0 else grad, latent.shape)

    @ops.custom_gradient
    def nll(x, alpha_latent, scale_latent):
        # alpha = lo + width sigmoid(latent), c = lo + softplus(latent), and
        # their slopes in the latents (a fixed value has no latent).
        if alpha_latent is None:
            alpha = torch.full((features,), layer.alpha_lo)
        else:
            fraction = torch.sigmoid(expanded(alpha_latent))
            width = layer.alpha_hi - layer.alpha_lo
            alpha = fraction.mul(width).add_(layer.alpha_lo)
            alpha_slope = fraction.mul(torch.sub(1.0, fraction)).mul_(width)
        if scale_latent is None:
            scale = torch.full((features,), layer.scale_lo)
        else:
            flat = expanded(scale_latent)
            scale = torch.nn.functional.softplus(flat).add_(layer.scale_lo)
            scale_slope = torch.sigmoid(flat)
        gap = alpha - 2.0
        b, sign = gap.abs(), gap.sign()
        # Clipped as `scaled_square` clips, so that `w` and log(1 + w) stay
        # finite (an infinite log times a masked zero slope is NaN).
        limit = scale * _RESIDUAL_LIMIT
        residual = torch.clamp(torch.sub(x, y_true), min=-limit, max=limit)
        u = torch.mul(residual, torch.rsqrt(b).div_(scale)).square_()  # w
        log_u = torch.log1p(u)  # L
        exponent = log_u.mul(0.5 * alpha)
        capped = None
        if float(torch.amax(exponent)) >= _MAX_EXPONENT:
            capped = exponent >= _MAX_EXPONENT
            exponent.clamp_(max=_MAX_EXPONENT)
        e = exponent.expm1_()  # E
        log_z, log_z_slope = torch_log_partition_and_slope(alpha)
        value = torch.mv(e, b / alpha).add_(torch.sum(torch.log(scale).add_(log_z)))
        u.add_(1.0)

        def grad(*args, upstream=None):
            if upstream is None:
                (upstream,) = args
            a = torch.add(e, 1.0)
            if capped is not None:
                a.masked_fill_(capped, 0.0)
            slope = torch.div(a, u)  # S
            inv_c = torch.reciprocal(scale)
            total = torch.sum(upstream)  # log c and log Z count once per sample
            want_alpha = alpha_latent is not None and alpha_latent.requires_grad
            want_scale = scale_latent is not None and scale_latent.requires_grad
            dalpha = dscale = None
            # Each full-size buffer is a fresh allocation (on a CPU about as
            # costly as the pass itself on large batches): three here, the
            # rest in place, and alpha's three terms summed over the batch
            # in one product.
            if want_alpha:
                terms = torch.mul(a, log_u).mul_(b / (2.0 * alpha)).addcmul_(e, 2.0 * sign / torch.square(alpha))
            if want_alpha or want_scale:
                sw = a.sub_(slope)  # S w
            if want_alpha:
                dalpha = torch.mv(terms.addcmul_(sw, sign, value=-0.5).T, upstream)
                dalpha.add_(total * log_z_slope).mul_(alpha_slope)
            if want_scale:
                sw_sum = torch.mv(sw.T, upstream)
                dscale = torch.addcmul(total, b, sw_sum, value=-1.0).mul_(inv_c).mul_(scale_slope)
            dx = slope.mul_(residual).mul_(torch.square(inv_c)).mul_(upstream.unsqueeze(1))
            return dx, to_latent(dalpha, alpha_latent), to_latent(dscale, scale_latent)

        return value, grad

    return nll(y_pred, alpha_latent, scale_latent)


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
