import keras

from keras_recon import backend


@keras.saving.register_keras_serializable(package="keras_recon")
class Adam(keras.optimizers.Adam):
    """Keras's Adam: the same update, as one fused kernel per step on PyTorch.

    A drop-in replacement for `keras.optimizers.Adam` with the same
    arguments, update rule and saved state. On TensorFlow and JAX it is
    exactly Keras's Adam. On PyTorch, Keras's Adam makes ten passes over
    the parameters per step through `torch._foreach_*` operations, five of
    which allocate a new copy of every parameter tensor; this class runs
    the same update through PyTorch's fused Adam kernel
    (`torch.optim.adam.adam(..., fused=True)`), one in-place pass per tensor.
    The measured gain on a CPU (one update of Chen et al.'s MLP VAE's 1.3
    million parameters, and its training step) is in
    `benchmarks/results/handwritten_torch.md`.

    Formula (Keras's, with `t` the step number starting at 1):

    ```python
    m = beta_1 * m + (1 - beta_1) * g
    v = beta_2 * v + (1 - beta_2) * g**2
    v_hat = max(v_hat, v) if amsgrad else v
    alpha = learning_rate * sqrt(1 - beta_2**t) / (1 - beta_1**t)
    w = w - alpha * m / (sqrt(v_hat) + epsilon)
    ```

    PyTorch's kernel applies its own bias corrections and puts `epsilon`
    after them; it is called with its step count at a value where both
    corrections are exactly 1 and with `alpha` as its learning rate, so it
    computes Keras's formula above. Weight decay, gradient clipping,
    gradient accumulation, loss scaling and EMA are applied by Keras as for
    its own Adam. Variables of mixed dtypes, or on devices other than CPU
    and CUDA, take Keras's generic per-variable update (same numbers,
    slower).

    Example:

    >>> vae.compile(optimizer=keras_recon.optimizers.Adam(1e-3),
    ...             loss=keras_recon.losses.LogCosh(a=100))

    Args:
        learning_rate: A float, a schedule or a callable. Defaults to
            `0.001`.
        beta_1: Decay rate of the first-moment estimate. Defaults to `0.9`.
        beta_2: Decay rate of the second-moment estimate. Defaults to
            `0.999`.
        epsilon: Added to `sqrt(v_hat)`. Defaults to `1e-7`.
        amsgrad: Whether to use the AMSGrad maximum of `v`. Defaults to
            `False`.
        **kwargs: Every other argument of `keras.optimizers.Adam`
            (`weight_decay`, `clipnorm`, `use_ema`,
            `gradient_accumulation_steps`, `name`, ...).

    Reference:
        Kingma and Ba, "Adam: A Method for Stochastic Optimization", 2015.
        https://arxiv.org/abs/1412.6980
    """

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999,
                 epsilon=1e-7, amsgrad=False, name="adam", **kwargs):
        if not 0.0 <= float(beta_1) < 1.0 or not 0.0 <= float(beta_2) < 1.0:
            raise ValueError(
                f"`beta_1` and `beta_2` must lie in [0, 1); received "
                f"beta_1={beta_1}, beta_2={beta_2}."
            )
        super().__init__(learning_rate=learning_rate, beta_1=beta_1,
                         beta_2=beta_2, epsilon=epsilon, amsgrad=amsgrad,
                         name=name, **kwargs)

    def _backend_update_step(self, grads, trainable_variables, learning_rate):
        # Keras's optimizers have no public hook that sees every variable of
        # a step at once, which a fused kernel needs; this override of the
        # hook Keras calls for the whole step is the package's only use of
        # an optimizer's private method, and
        # tests/test_optimizers.py::test_pytorch_update_runs_the_fused_kernel
        # fails if Keras stops calling it.
        if backend.fused_adam_update(self, grads, trainable_variables, learning_rate):
            return None
        return super()._backend_update_step(
            grads, trainable_variables, learning_rate
        )
