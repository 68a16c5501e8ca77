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
    """Seed 000 appendix A.2 MLP: 784 -> FC500 -> FC500 -> FC8, mirrored.

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
    """Seed 000 appendix A.2 conv nets (the WAE paper's MNIST architecture).

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
    """Seed 000 appendix A.3 conv nets (the WAE paper's CelebA architecture).

    Encoder: Conv128 -> Conv256 -> Conv512 -> Conv1024 (5x5 in the WAE code,
    4x4 here as in seed 000's text; stride 2, batch norm, ReLU) -> FC 64.
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
    """Seed 002's autoencoder: 784 -> 32 -> 784.

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


def _residual_conv(x, filters):
    skip = x
    for _ in range(2):
        x = layers.BatchNormalization()(x)
        x = layers.ReLU()(x)
        x = layers.Conv2D(filters, 3, padding="same")(x)
    return layers.Add()([skip, x])


def _residual_dense(x, units):
    skip = x
    for _ in range(2):
        x = layers.BatchNormalization()(x)
        x = layers.ReLU()(x)
        x = layers.Dense(units)(x)
    return layers.Add()([skip, x])


def resnet(input_shape=(32, 32, 3), latent_dim=64, scale_blocks=3, blocks_per_scale=1,
           base_channels=64, dense_units=512, gaussian=True):
    """Seed 003's ResNet VAE (its figure 1, after Dai & Wipf 2019).

    Encoder: a 3x3 conv to `base_channels`; `scale_blocks` times a scale
    block (`blocks_per_scale` residual blocks: BN-ReLU-Conv3x3 twice plus
    the skip) followed by a stride-2 4x4 conv doubling the channels; flatten;
    a dense scale block of width `dense_units`; the latent means and
    log-variances. Decoder: FC to the smallest map, then per scale a
    stride-2 4x4 deconvolution halving the channels and a scale block, then
    a 3x3 conv with sigmoid to the image. CIFAR-10 uses 3 scale blocks and
    64 latents; seed 003's CelebA base model uses 4 and 64.
    """
    h, w, c = input_shape
    factor = 2**scale_blocks
    if h % factor or w % factor:
        raise ValueError(f"resnet with {scale_blocks} scale blocks needs sides divisible by {factor}")
    inputs = keras.Input(input_shape)
    x = layers.Conv2D(base_channels, 3, padding="same")(inputs)
    channels = base_channels
    for _ in range(scale_blocks):
        for _ in range(blocks_per_scale):
            x = _residual_conv(x, channels)
        channels *= 2
        x = layers.Conv2D(channels, 4, strides=2, padding="same")(x)
    x = layers.Flatten()(x)
    x = layers.Dense(dense_units)(x)
    x = _residual_dense(x, dense_units)
    x = layers.ReLU()(x)
    encoder = keras.Model(inputs, _code_layer(latent_dim, gaussian)(x), name="resnet_encoder")

    codes = keras.Input((latent_dim,))
    x = layers.Dense((h // factor) * (w // factor) * channels)(codes)
    x = layers.Reshape((h // factor, w // factor, channels))(x)
    for _ in range(scale_blocks):
        channels //= 2
        x = layers.Conv2DTranspose(channels, 4, strides=2, padding="same")(x)
        for _ in range(blocks_per_scale):
            x = _residual_conv(x, channels)
    x = layers.BatchNormalization()(x)
    x = layers.ReLU()(x)
    x = layers.Conv2D(c, 3, padding="same", activation="sigmoid")(x)
    return encoder, keras.Model(codes, x, name="resnet_decoder")


def second_stage(latent_dim, inner_dim=1024, depth=3, second_latent_dim=None):
    """Dai & Wipf's second-stage VAE nets: dense layers on first-stage codes.

    Encoder: `depth` Dense(inner_dim, ReLU) layers with the input
    concatenated back in, then the means and log-variances; decoder
    mirrored with a linear output (codes are real-valued). Seed 003 uses
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
