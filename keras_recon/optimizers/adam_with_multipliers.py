import math

import keras

from keras_recon.optimizers.adam import Adam


@keras.saving.register_keras_serializable(package="keras_recon")
class AdamWithMultipliers(Adam):
    """Adam with the learning rate multiplied, for named variables, by a factor.

    Each variable whose `name` is a key of `multipliers` is updated with
    `learning_rate * multipliers[name]`; every other variable with
    `learning_rate`. Moments, bias corrections and the step count are
    Adam's own. Because Adam's step does not depend on the gradient's
    scale, a larger learning rate is the way to move a variable faster:
    a likelihood's per-element shape and scale latents (`alpha_latent`,
    `scale_latent`, `log_scale`, `log_dof`) each see one gradient per
    element per batch and, at the network's learning rate, move at most
    that rate per step.

    Formula (for a variable `w` with factor `k`, 1 where none is given):

    ```python
    alpha = k * learning_rate * sqrt(1 - beta_2**t) / (1 - beta_1**t)
    w = w - alpha * m / (sqrt(v_hat) + epsilon)
    ```

    Example:

    >>> optimizer = AdamWithMultipliers(1e-3, multipliers={"alpha_latent": 10.0})
    >>> optimizer.multipliers
    {'alpha_latent': 10.0}

    Args:
        learning_rate: A float, a schedule or a callable. Defaults to
            `0.001`.
        multipliers: `{variable name: factor}`, each factor positive and
            finite. Defaults to `None`, which is `Adam`.
        **kwargs: Every other argument of `keras_recon.optimizers.Adam`.
    """

    def __init__(self, learning_rate=0.001, multipliers=None, **kwargs):
        super().__init__(learning_rate=learning_rate, **kwargs)
        multipliers = dict(multipliers or {})
        for name, factor in multipliers.items():
            if isinstance(factor, bool) or not isinstance(factor, (int, float)) or not (
                math.isfinite(factor) and factor > 0
            ):
                raise ValueError(
                    f"Each multiplier must be a positive finite number. Received: {name!r}: {factor!r}"
                )
        self.multipliers = {str(k): float(v) for k, v in multipliers.items()}

    def _backend_update_step(self, grads, trainable_variables, learning_rate):
        # One update per group of equal factors, so that each group keeps
        # the parent's fast path (PyTorch's fused kernel).
        groups = {}
        for grad, variable in zip(grads, trainable_variables):
            factor = self.multipliers.get(variable.name, 1.0)
            group = groups.setdefault(factor, ([], []))
            group[0].append(grad)
            group[1].append(variable)
        for factor, (group_grads, group_variables) in groups.items():
            rate = learning_rate if factor == 1.0 else learning_rate * factor
            super()._backend_update_step(group_grads, group_variables, rate)

    def get_config(self):
        config = super().get_config()
        config["multipliers"] = dict(self.multipliers)
        return config
