"""The papers' encoders and decoders, each a function returning
`(encoder, decoder)` that the models accept.

Every builder takes the input shape and the latent size, so the same
architecture serves MNIST, CIFAR-10 and CelebA. `gaussian=True` (the
default) makes the encoder output `2 * latent_dim` values (means, then
log-variances) for `VAE`; `gaussian=False` outputs the codes, for `AE` and
the deterministic `WAE`.
"""

import math

import keras
from keras import layers


def _code_layer(latent_dim, gaussian, name="code"):
    return layers.Dense(2 * latent_dim if gaussian else latent_dim, name=name)


def mlp(input_shape, latent_dim, hidden=(500, 500), gaussian=True):
    """Chen et al. appendix A.2 MLP: 784 -> FC500 -> FC500 -> FC8, mirrored.

    ReLU hidden layers; the decoder ends in a sigmoid and reshapes to
    `input_shape`.
    """
    size = math.prod(input_shape)
    inputs = keras.Input(input_shape)
    x = layers.Flatten()(inputs)
    for units in hidden:
        x = layers.Dense(units, activation="relu")(x)
    encoder = keras.Model(inputs, _code_layer(latent_dim, gaussian)(x), name="mlp_encoder")

    codes = keras.Input((latent_dim,))
    x = codes
    for units in reversed(hidden):
        x = layers.Dense(units, activation="relu")(x)
    x = layers.Dense(size, activation="sigmoid")(x)
    decoder = keras.Model(codes, layers.Reshape(input_shape)(x), name="mlp_decoder")
    return encoder, decoder


def _conv_bn_relu(x, filters, strides, transpose=False):
    conv = layers.Conv2DTranspose if transpose else layers.Conv2D
    x = conv(filters, 4, strides=strides, padding="same", use_bias=False)(x)
    x = layers.BatchNormalization()(x)
    return layers.ReLU()(x)


def _conv_encoder(input_shape, latent_dim, gaussian, name):
    inputs = keras.Input(input_shape)
    x = inputs
    for filters in (128, 256, 512, 1024):
        x = _conv_bn_relu(x, filters, 2)
    x = layers.Flatten()(x)
    return keras.Model(inputs, _code_layer(latent_dim, gaussian)(x), name=name)


def conv_mnist(input_shape=(28, 28, 1), latent_dim=8, gaussian=True):
    """Chen et al. appendix A.2 conv nets (the WAE paper's MNIST architecture).

    Encoder: Conv128 -> Conv256 -> Conv512 -> Conv1024 (4x4, stride 2,
    batch norm, ReLU) -> FC latent. Decoder: FC 7x7x1024 -> ReLU ->
    Deconv512 -> Deconv256 (4x4, stride 2, batch norm, ReLU) -> Deconv1
    (stride 1, sigmoid). The ReLU on the reshaped FC output, without batch
    norm, is the WAE code's DCGAN decoder (Tolstikhin et al.,
    `tolstikhin/wae`, `models.py`, `dcgan_decoder`); without it the FC layer
    and the first deconvolution would compose into one linear map. For
    other sizes the FC map is `(h/4) x (w/4) x 1024` and the last
    deconvolution has the input's channel count.
    """
    h, w, c = input_shape
    if h % 4 or w % 4:
        raise ValueError(f"conv_mnist needs height and width divisible by 4; received {input_shape}")
    encoder = _conv_encoder(input_shape, latent_dim, gaussian, "conv_mnist_encoder")
    codes = keras.Input((latent_dim,))
    x = layers.Dense((h // 4) * (w // 4) * 1024)(codes)
    x = layers.Reshape((h // 4, w // 4, 1024))(x)
    x = layers.ReLU()(x)
    x = _conv_bn_relu(x, 512, 2, transpose=True)
    x = _conv_bn_relu(x, 256, 2, transpose=True)
    x = layers.Conv2DTranspose(c, 4, strides=1, padding="same", activation="sigmoid")(x)
    return encoder, keras.Model(codes, x, name="conv_mnist_decoder")


def conv_celeba(input_shape=(64, 64, 3), latent_dim=64, gaussian=True):
    """Chen et al. appendix A.3 conv nets (the WAE paper's CelebA architecture).

    Encoder: Conv128 -> Conv256 -> Conv512 -> Conv1024 (5x5 in the WAE code,
    4x4 here as in Chen et al.'s text; stride 2, batch norm, ReLU) -> FC 64.
    Decoder: FC 8x8x1024 -> ReLU -> Deconv512 -> Deconv256 -> Deconv128
    (stride 2, batch norm, ReLU) -> Deconv3 (stride 1, sigmoid); the ReLU
    after the FC layer (no batch norm) as in `conv_mnist`.
    """
    h, w, c = input_shape
    if h % 8 or w % 8:
        raise ValueError(f"conv_celeba needs height and width divisible by 8; received {input_shape}")
    encoder = _conv_encoder(input_shape, latent_dim, gaussian, "conv_celeba_encoder")
    codes = keras.Input((latent_dim,))
    x = layers.Dense((h // 8) * (w // 8) * 1024)(codes)
    x = layers.Reshape((h // 8, w // 8, 1024))(x)
    x = layers.ReLU()(x)
    for filters in (512, 256, 128):
        x = _conv_bn_relu(x, filters, 2, transpose=True)
    x = layers.Conv2DTranspose(c, 4, strides=1, padding="same", activation="sigmoid")(x)
    return encoder, keras.Model(codes, x, name="conv_celeba_decoder")


def dense_autoencoder(input_shape=(784,), latent_dim=32, output_activation="sigmoid"):
    """Haruguchi's autoencoder: 784 -> 32 -> 784.

    ReLU code layer; `output_activation="sigmoid"` is the paper's
    ReLU-Sigmoid pair and `"relu"` its ReLU-ReLU pair. The encoder outputs
    the codes directly (use it with `AE`).
    """
    if output_activation not in ("sigmoid", "relu"):
        raise ValueError(
            "Argument `output_activation` must be 'sigmoid' or 'relu'. "
            f"Received: output_activation={output_activation!r}"
        )
    size = math.prod(input_shape)
    inputs = keras.Input(input_shape)
    x = layers.Flatten()(inputs)
    encoder = keras.Model(inputs, layers.Dense(latent_dim, activation="relu")(x), name="dense_encoder")
    codes = keras.Input((latent_dim,))
    x = layers.Dense(size, activation=output_activation)(codes)
    decoder = keras.Model(codes, layers.Reshape(input_shape)(x), name="dense_decoder")
    return encoder, decoder


def _batch_norm():
    # The released code's own batch norm: moving averages with decay 0.999,
    # epsilon 1e-5.
    return layers.BatchNormalization(momentum=0.999, epsilon=1e-5)


def _residual_block(x, filters, kernel_size):
    """(BN, ReLU, conv) twice, plus a convolutional shortcut of the input."""
    y = x
    for _ in range(2):
        y = _batch_norm()(y)
        y = layers.ReLU()(y)
        y = layers.Conv2D(filters, kernel_size, padding="same")(y)
    shortcut = layers.Conv2D(filters, kernel_size, padding="same")(x)
    return layers.Add()([y, shortcut])


def _residual_dense_block(x, units):
    """(ReLU, dense) twice, plus a dense shortcut of the input; no batch norm."""
    y = x
    for _ in range(2):
        y = layers.Dense(units)(layers.ReLU()(y))
    shortcut = layers.Dense(units)(x)
    return layers.Add()([y, shortcut])


def resnet(input_shape=(32, 32, 3), latent_dim=64, scale_blocks=3, blocks_per_scale=1,
           base_channels=32, dense_units=512, kernel_size=3, gaussian=True):
    """Asperti and Trentin's ResNet VAE as the authors released it.

    Asperti and Trentin ("Balancing Reconstruction Error and
    Kullback-Leibler Divergence in Variational Autoencoders", IEEE Access
    2020) describe the net in its figure 1, borrowed from Dai and Wipf;
    this builds the `Resnet` class of the authors' code (repository
    `asperti/BalancingVAE`, file `computed_gamma.py`, itself Dai and Wipf's
    `daib13/TwoStageVAE` network). Every convolution is `kernel_size` x
    `kernel_size` (3) with "same" padding and a bias.

    A residual block is (BN, ReLU, conv) twice on the main path plus a
    convolution of the block's input as the shortcut; a scale block is
    `blocks_per_scale` residual blocks at one width.

    Encoder: conv to `base_channels`; `scale_blocks` scale blocks, each but
    the last followed by a stride-2 conv doubling the width (so
    `scale_blocks - 1` downsamplings); global average pooling; one dense
    residual block of width `dense_units` ((ReLU, dense) twice plus a dense
    shortcut, no batch norm); a dense layer to the latent means and
    log-variances (the released code has two dense layers, means and log
    standard deviations, with the same parameter count).

    Decoder: dense to a 2x2 map whose width is `base_channels` doubled once
    per upsampling (at most 1024), then per doubling of the side up to the
    image a stride-2 transposed conv halving the width and a scale block;
    a conv to the image's channels with a sigmoid. As released, no
    activation sits between the dense layer and the first transposed conv
    (the scale block's BN-ReLU comes after it). The decoder therefore
    does not depend on `scale_blocks`, and the input must be square with a
    power-of-two side.

    The released settings: CIFAR-10 3 scale blocks, CelebA 64x64 4; one
    residual block per scale, base width 32, dense width 512, 64 latents
    (16 is the class's keyword default and Dai and Wipf's, not what the
    training script sets). The released code also hands an L2 kernel
    regularizer to the stride-2 convolutions, but its stage-1 loss never
    adds the regularization losses, so it is left out here.
    """
    h, w, c = input_shape
    if h != w or h < 2 or h & (h - 1):
        raise ValueError(
            "resnet needs a square input with a power-of-two side (its decoder doubles a 2x2 map); "
            f"received {input_shape}"
        )
    inputs = keras.Input(input_shape)
    x = layers.Conv2D(base_channels, kernel_size, padding="same")(inputs)
    channels = base_channels
    for scale in range(scale_blocks):
        for _ in range(blocks_per_scale):
            x = _residual_block(x, channels, kernel_size)
        if scale < scale_blocks - 1:
            channels *= 2
            x = layers.Conv2D(channels, kernel_size, strides=2, padding="same")(x)
    x = layers.GlobalAveragePooling2D()(x)
    x = _residual_dense_block(x, dense_units)
    encoder = keras.Model(inputs, _code_layer(latent_dim, gaussian)(x), name="resnet_encoder")

    # Widths from the image's side down to 2x2: base, 2 * base, ... (<= 1024).
    upsamplings = h.bit_length() - 2
    widths = [min(base_channels * 2**i, 1024) for i in range(upsamplings + 1)]
    codes = keras.Input((latent_dim,))
    x = layers.Dense(2 * 2 * widths[-1])(codes)
    x = layers.Reshape((2, 2, widths[-1]))(x)
    for width in reversed(widths[:-1]):
        x = layers.Conv2DTranspose(width, kernel_size, strides=2, padding="same")(x)
        for _ in range(blocks_per_scale):
            x = _residual_block(x, width, kernel_size)
    x = layers.Conv2D(c, kernel_size, padding="same", activation="sigmoid")(x)
    return encoder, keras.Model(codes, x, name="resnet_decoder")


def second_stage(latent_dim, inner_dim=1024, depth=3, second_latent_dim=None):
    """Dai & Wipf's second-stage VAE nets: dense layers on first-stage codes.

    Encoder: `depth` Dense(inner_dim, ReLU) layers with the input
    concatenated back in, then the means and log-variances; decoder
    mirrored with a linear output (codes are real-valued). Asperti and Trentin use
    `inner_dim=4096` on CelebA.
    """
    second_latent_dim = second_latent_dim or latent_dim
    inputs = keras.Input((latent_dim,))
    x = inputs
    for _ in range(depth):
        x = layers.Dense(inner_dim, activation="relu")(x)
    x = layers.Concatenate()([inputs, x])
    encoder = keras.Model(inputs, layers.Dense(2 * second_latent_dim)(x), name="second_stage_encoder")
    codes = keras.Input((second_latent_dim,))
    x = codes
    for _ in range(depth):
        x = layers.Dense(inner_dim, activation="relu")(x)
    x = layers.Concatenate()([codes, x])
    decoder = keras.Model(codes, layers.Dense(latent_dim)(x), name="second_stage_decoder")
    return encoder, decoder
