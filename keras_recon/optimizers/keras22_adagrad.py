import keras
from keras import ops


@keras.saving.register_keras_serializable(package="keras_recon")
class Keras22Adagrad(keras.optimizers.Optimizer):
    """Adagrad as Keras 2.2 computed it: accumulators from 0, epsilon outside the root.

    Keras 3's `keras.optimizers.Adagrad` differs in two places: its
    accumulators start at `initial_accumulator_value=0.1`, and it divides
    by `sqrt(a + epsilon)`. Passing `initial_accumulator_value=0.0` fixes
    the first but not the second: with `a` starting at 0 the Keras 2.2
    step `lr * g / (|g| + 1e-7)` is about `lr` for every gradient larger
    than 1e-7, where `lr * g / sqrt(g**2 + 1e-7)` shrinks every gradient
    below about 3e-4 towards 0 (at `g = 1e-5`, 3% of the Keras 2.2 step).

    Formula (Keras 2.2.4, `keras/optimizers.py`, with `decay = 0`):

    ```python
    a = a + g**2                        # a starts at 0
    w = w - learning_rate * g / (sqrt(a) + epsilon)
    ```

    Example:

    >>> model.compile(optimizer=keras_recon.optimizers.Keras22Adagrad(),
    ...               loss="mse")

    Args:
        learning_rate: A float, a schedule or a callable. Defaults to
            `0.01` (Keras 2.2's default).
        epsilon: Added to `sqrt(a)`. Defaults to `1e-7` (Keras 2.2's
            `K.epsilon()`).
        **kwargs: Every argument of `keras.optimizers.Optimizer`
            (`weight_decay`, `clipnorm`, `name`, ...).

    Reference:
        Duchi, Hazan and Singer, "Adaptive Subgradient Methods for Online
        Learning and Stochastic Optimization", JMLR 2011.
        https://jmlr.org/papers/v12/duchi11a.html
    """

    def __init__(self, learning_rate=0.01, epsilon=1e-7, name="keras22_adagrad", **kwargs):
        if not float(epsilon) >= 0.0:
            raise ValueError(f"Argument `epsilon` must be >= 0. Received: epsilon={epsilon}")
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        self.epsilon = epsilon

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        self._accumulators = [
            self.add_variable_from_reference(v, name="accumulator", initializer="zeros")
            for v in var_list
        ]

    def update_step(self, gradient, variable, learning_rate):
        lr = ops.cast(learning_rate, variable.dtype)
        gradient = ops.cast(gradient, variable.dtype)
        accumulator = self._accumulators[self._get_variable_index(variable)]
        self.assign_add(accumulator, ops.square(gradient))
        self.assign_sub(
            variable,
            ops.divide(ops.multiply(lr, gradient), ops.add(ops.sqrt(accumulator), self.epsilon)),
        )

    def get_config(self):
        config = super().get_config()
        config.update({"epsilon": self.epsilon})
        return config
