import numpy as np


def variance_law(z_mean, z_log_var):
    """The VAE variance law (Asperti and Trentin, 2020), per latent and overall.

    Formula (expectations over the data):

    ```python
    per_latent = E[mu_j(x)^2] + E[sigma_j(x)^2]
    overall = mean_j(per_latent)
    ```

    For a posterior that matches the N(0, I) prior in aggregate, every
    `per_latent` value is 1: active latents trade posterior variance for
    spread of the means, inactive ones have `mu ~ 0`, `sigma ~ 1`.

    Example:

    >>> variance_law(np.zeros((4, 2)), np.zeros((4, 2)))
    (array([1., 1.]), 1.0)

    Args:
        z_mean: Posterior means over a dataset, `(n, latent_dim)`.
        z_log_var: Posterior log-variances, `(n, latent_dim)`.

    Returns:
        `(per_latent, overall)`: a float64 array `(latent_dim,)` and a float.

    Reference:
        - Andrea Asperti and Matteo Trentin, "Balancing Reconstruction
          Error and Kullback-Leibler Divergence in Variational
          Autoencoders", IEEE Access 8, 2020,
          doi:10.1109/ACCESS.2020.3034828, sections II-A and V.
    """
    mu, log_var = _check(z_mean, z_log_var)
    per_latent = np.mean(mu**2, axis=0) + np.mean(np.exp(log_var), axis=0)
    return per_latent, float(per_latent.mean())


def inactive_latents(z_log_var, threshold=0.8):
    """Counts latent variables the encoder leaves at the prior.

    A latent `j` is inactive when `E_x[sigma_j(x)^2] >= threshold` (Asperti and
    Trentin, 2020, use 0.8): its posterior keeps the prior's unit variance whatever the
    input, so it carries no information.

    Example:

    >>> inactive_latents(np.array([[0.0, -5.0], [0.0, -4.0]]))
    1

    Args:
        z_log_var: Posterior log-variances over a dataset, `(n, latent_dim)`.
        threshold: Mean posterior variance at or above which a latent counts
            as inactive. Defaults to `0.8`.

    Returns:
        The number of inactive latents, an int.
    """
    log_var = np.asarray(z_log_var, np.float64)
    if log_var.ndim != 2:
        raise ValueError(
            f"`z_log_var` must have shape (n, latent_dim); received {log_var.shape}"
        )
    return int(np.sum(np.mean(np.exp(log_var), axis=0) >= threshold))


def _check(z_mean, z_log_var):
    mu = np.asarray(z_mean, np.float64)
    log_var = np.asarray(z_log_var, np.float64)
    if mu.ndim != 2 or mu.shape != log_var.shape:
        raise ValueError(
            "`z_mean` and `z_log_var` must both have shape (n, latent_dim); "
            f"received {mu.shape} and {log_var.shape}"
        )
    return mu, log_var
