import keras
from keras import ops


@keras.saving.register_keras_serializable(package="keras_recon")
class Keras22Nadam(keras.optimizers.Optimizer):
    """Nadam as Keras 2.2 computed it, with Dozat's slow momentum warm-up.

    Keras 2.2 raised the momentum from `beta_1 / 2` towards `beta_1` as
    `mu_t = beta_1 * (1 - 0.5 * 0.96**(t * schedule_decay))`, with
    `schedule_decay = 0.004`: after 1,000 steps `mu_t` is 0.52, after
    11,750 (50 epochs of 60,000 digits in batches of 256) 0.83. Keras 3's
    `keras.optimizers.Nadam` has no `schedule_decay` and uses `0.96**t`,
    so its momentum reaches 0.9 within about 100 steps.

    Formula (Keras 2.2.4, `keras/optimizers.py`; `t` is the step number
    from 1, `m_schedule` starts at 1):

    ```python
    mu_t = beta_1 * (1 - 0.5 * 0.96**(t * schedule_decay))
    mu_next = beta_1 * (1 - 0.5 * 0.96**((t + 1) * schedule_decay))
    m_schedule_new = m_schedule * mu_t
    m_schedule_next = m_schedule_new * mu_next
    m = beta_1 * m + (1 - beta_1) * g
    v = beta_2 * v + (1 - beta_2) * g**2
    m_bar = (1 - mu_t) * g / (1 - m_schedule_new) + mu_next * m / (1 - m_schedule_next)
    v_hat = v / (1 - beta_2**t)
    w = w - learning_rate * m_bar / (sqrt(v_hat) + epsilon)
    m_schedule = m_schedule_new
    ```

    The schedule's product is one optimizer variable, advanced once per
    `apply`; gradient accumulation (`gradient_accumulation_steps`) is not
    supported, because `apply` counts every call as a step.

    Example:

    >>> model.compile(optimizer=keras_recon.optimizers.Keras22Nadam(),
    ...               loss="mse")

    Args:
        learning_rate: A float, a schedule or a callable. Defaults to
            `0.002` (Keras 2.2's default).
        beta_1: The momentum's limit. Defaults to `0.9`.
        beta_2: Decay rate of the second-moment estimate. Defaults to
            `0.999`.
        epsilon: Added to `sqrt(v_hat)`. Defaults to `1e-7` (Keras 2.2's
            `K.epsilon()`).
        schedule_decay: Rate of the momentum warm-up. Defaults to `0.004`.
        **kwargs: Every other argument of `keras.optimizers.Optimizer`
            (`weight_decay`, `clipnorm`, `name`, ...).

    Reference:
        Dozat, "Incorporating Nesterov Momentum into Adam", ICLR 2016
        workshop. https://openreview.net/forum?id=OM0jvwB8jIp57ZJjtNEZ
    """

    def __init__(self, learning_rate=0.002, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                 schedule_decay=0.004, name="keras22_nadam", **kwargs):
        if kwargs.get("gradient_accumulation_steps"):
            raise ValueError("Keras22Nadam does not support `gradient_accumulation_steps`.")
        if not 0.0 <= float(beta_1) < 1.0 or not 0.0 <= float(beta_2) < 1.0:
            raise ValueError(
                f"`beta_1` and `beta_2` must lie in [0, 1); received beta_1={beta_1}, beta_2={beta_2}."
            )
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.schedule_decay = schedule_decay

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        self._momentums = [self.add_variable_from_reference(v, name="momentum") for v in var_list]
        self._velocities = [self.add_variable_from_reference(v, name="velocity") for v in var_list]
        self._m_schedule = self.add_variable(shape=(), initializer="ones", name="m_schedule")

    def _momentum_at(self, step, dtype):
        decay = ops.power(ops.cast(0.96, dtype), step * ops.cast(self.schedule_decay, dtype))
        return ops.cast(self.beta_1, dtype) * (1.0 - 0.5 * decay)

    def apply(self, grads, trainable_variables=None):
        grads = list(grads)
        super().apply(grads, trainable_variables)
        if grads:
            # `iterations` has just been advanced to the step that was taken.
            dtype = self._m_schedule.dtype
            step = ops.cast(self.iterations, dtype)
            self._m_schedule.assign(self._m_schedule * self._momentum_at(step, dtype))

    def update_step(self, gradient, variable, learning_rate):
        dtype = variable.dtype
        lr = ops.cast(learning_rate, dtype)
        g = ops.cast(gradient, dtype)
        t = ops.cast(self.iterations + 1, dtype)
        beta_1 = ops.cast(self.beta_1, dtype)
        beta_2 = ops.cast(self.beta_2, dtype)
        mu_t = self._momentum_at(t, dtype)
        mu_next = self._momentum_at(t + 1.0, dtype)
        m_schedule_new = ops.cast(self._m_schedule, dtype) * mu_t
        m_schedule_next = m_schedule_new * mu_next

        index = self._get_variable_index(variable)
        m, v = self._momentums[index], self._velocities[index]
        self.assign(m, beta_1 * m + (1.0 - beta_1) * g)
        self.assign(v, beta_2 * v + (1.0 - beta_2) * ops.square(g))
        m_bar = (1.0 - mu_t) * g / (1.0 - m_schedule_new) + mu_next * m / (1.0 - m_schedule_next)
        v_hat = v / (1.0 - ops.power(beta_2, t))
        self.assign_sub(variable, lr * m_bar / (ops.sqrt(v_hat) + self.epsilon))

    def get_config(self):
        config = super().get_config()
        config.update({
            "beta_1": self.beta_1, "beta_2": self.beta_2,
            "epsilon": self.epsilon, "schedule_decay": self.schedule_decay,
        })
        return config
