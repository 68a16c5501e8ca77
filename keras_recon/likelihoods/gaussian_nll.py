import keras

from keras_recon.likelihoods.gaussian import Gaussian


@keras.saving.register_keras_serializable(package="keras_recon")
class GaussianNLL(keras.losses.Loss):
    """The Gaussian decoder NLL as a Keras loss, for `compile(loss=...)`.

    Formula per sample, summed over pixels:

    ```python
    nll = sum((y_pred - y_true)**2 / (2 gamma**2) + log(gamma) + log(2 pi) / 2)
    ```

    with gamma fixed, learned, computed or optimal as in `Gaussian`. A
    learned or computed gamma is state, and a Keras loss cannot own state
    (inside a compiled JAX step a variable the model does not own is read
    as a constant and never changes). So when a keras_recon model is
    compiled with this loss, the model adopts its `Gaussian` layer: gamma
    becomes the model's variable, trained or balanced with it, and saved
    with it. Used with any other model, a learned or computed gamma raises
    `ValueError`; a fixed or optimal one works anywhere.

    Example:

    ```python
    vae = VAE(encoder, decoder)
    vae.compile(optimizer="adam", loss=GaussianNLL(gamma="computed"))
    vae.fit(x, epochs=...)    # the model adds GammaBalancer itself
    ```

    Args:
        gamma: A positive number, `"learned"`, `"computed"` or `"optimal"`.
            Defaults to `"learned"`.
        initial_scale: Starting gamma when learned. Defaults to `1.0`.
        reduction: Keras reduction over the batch. Defaults to
            `"sum_over_batch_size"`.
        name: Defaults to `"gaussian_nll"`.
        dtype: Defaults to `None`.
    """

    def __init__(self, gamma="learned", initial_scale=1.0, reduction="sum_over_batch_size",
                 name="gaussian_nll", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.likelihood = Gaussian(gamma, initial_scale)
        self.owned_by_model = False

    def call(self, y_true, y_pred):
        if self.likelihood.mode in ("learned", "computed") and not self.owned_by_model:
            raise ValueError(
                f"GaussianNLL(gamma={self.likelihood.mode!r}) keeps gamma as state, which only a "
                "keras_recon model (AE, VAE, WAE, TwoStageVAE) can own and update. Use one of "
                "those, pass `likelihood=Gaussian(...)` to it, or use a fixed or 'optimal' gamma."
            )
        return self.likelihood(y_true, y_pred)

    def get_config(self):
        config = super().get_config()
        config.update(gamma=self.likelihood.scale, initial_scale=self.likelihood.initial_scale)
        return config
