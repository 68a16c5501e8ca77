"""keras_recon against pythae, the PyTorch VAE library, on the same MLP VAE.

    pip install -e ".[bench]"          # pythae 0.1.2 next to torch==2.13.0
    KERAS_BACKEND=jax python -m benchmarks.pythae_vae

Chen et al.'s MLP VAE (784-500-500-8 latents, mirrored, ReLU, sigmoid output)
on the first 10,000 MNIST training digits (`$KERAS_RECON_DATA/mnist` or
`--data-dir`; the 5,000 embedded digits otherwise), batch 100, Adam 1e-3,
squared-error reconstruction (pythae's `reconstruction_loss="mse"`, which is
half the summed squared error; keras_recon's `SquaredError`, the summed
squared error: the same work). pythae trains through its own
`TrainingPipeline`-style `BaseTrainer` (no evaluation set,
`keep_best_on_train=True`, so it keeps a copy of the best model as a user's
run would); its epoch time is read by a pythae callback from the start to
the end of each epoch. keras_recon trains with `model.fit`. The first epoch
of each warms up; the figure is the median over the next `--epochs` epochs,
with pythae's and keras_recon's epochs run in the same process.
Writes `benchmarks/results/pythae_vae_<backend>.{json,md}`.
"""

import importlib.metadata
import logging
import os
import statistics
import tempfile
import time

import keras

from benchmarks import _harness
from benchmarks.train_step import load
from keras_recon import optimizers

HIDDEN, LATENT = 500, 8


def pythae_epochs(x, epochs):
    import torch
    from pythae.data.datasets import BaseDataset
    from pythae.models import VAE
    from pythae.models import VAEConfig
    from pythae.models.base.base_utils import ModelOutput
    from pythae.models.nn import BaseDecoder
    from pythae.models.nn import BaseEncoder
    from pythae.trainers import BaseTrainer
    from pythae.trainers import BaseTrainerConfig
    from pythae.trainers.training_callbacks import TrainingCallback

    logging.getLogger("pythae").setLevel(logging.WARNING)
    torch.manual_seed(0)

    class Encoder(BaseEncoder):
        def __init__(self):
            super().__init__()
            self.body = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, HIDDEN), torch.nn.ReLU(),
                                            torch.nn.Linear(HIDDEN, HIDDEN), torch.nn.ReLU())
            self.mean = torch.nn.Linear(HIDDEN, LATENT)
            self.log_var = torch.nn.Linear(HIDDEN, LATENT)

        def forward(self, inputs):
            h = self.body(inputs)
            return ModelOutput(embedding=self.mean(h), log_covariance=self.log_var(h))

    class Decoder(BaseDecoder):
        def __init__(self):
            super().__init__()
            self.body = torch.nn.Sequential(torch.nn.Linear(LATENT, HIDDEN), torch.nn.ReLU(),
                                            torch.nn.Linear(HIDDEN, HIDDEN), torch.nn.ReLU(),
                                            torch.nn.Linear(HIDDEN, 784), torch.nn.Sigmoid())

        def forward(self, z):
            return ModelOutput(reconstruction=self.body(z).reshape(-1, 1, 28, 28))

    class EpochTimes(TrainingCallback):
        def __init__(self):
            self.seconds = []

        def on_epoch_begin(self, training_config, **kwargs):
            self.start = time.perf_counter()

        def on_epoch_end(self, training_config, **kwargs):
            self.seconds.append(time.perf_counter() - self.start)

    config = VAEConfig(input_dim=(1, 28, 28), latent_dim=LATENT, reconstruction_loss="mse")
    model = VAE(config, encoder=Encoder(), decoder=Decoder())
    data = torch.from_numpy(x.transpose(0, 3, 1, 2).copy())
    timer = EpochTimes()
    with tempfile.TemporaryDirectory() as tmp:
        trainer = BaseTrainer(
            model, BaseDataset(data, torch.zeros(len(x))),
            training_config=BaseTrainerConfig(
                output_dir=tmp, per_device_train_batch_size=100, num_epochs=epochs + 1,
                learning_rate=1e-3, keep_best_on_train=True, no_cuda=True),
            callbacks=[timer])
        trainer.train()
    return timer.seconds[1:]


def keras_recon_epochs(x, epochs):
    from keras_recon.losses import SquaredError
    from keras_recon.models import VAE
    from keras_recon.models import architectures

    keras.utils.set_random_seed(0)
    model = VAE(*architectures.mlp((28, 28, 1), LATENT), seed=0)
    model.compile(optimizer=optimizers.Adam(1e-3), loss=SquaredError())
    seconds = []
    for _ in range(epochs + 1):
        start = time.perf_counter()
        model.fit(x, epochs=1, batch_size=100, verbose=0)
        seconds.append(time.perf_counter() - start)
    return seconds[1:]


def main():
    parser = _harness.argument_parser(__doc__)
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()
    try:
        import pythae  # noqa: F401
    except ImportError as error:
        raise SystemExit(f"pythae is not installed ({error}); run: pip install -e \".[bench]\"") from None
    x, source = load(args.data_dir)
    steps = len(x) // 100
    ms = {"pythae": 1e3 * statistics.median(pythae_epochs(x, args.epochs)) / steps,
          "keras_recon": 1e3 * statistics.median(keras_recon_epochs(x, args.epochs)) / steps}
    speed = ms["pythae"] / ms["keras_recon"]  # > 1: keras_recon faster
    backend = keras.backend.backend()
    note = _harness.machine_note()
    note["versions"]["pythae"] = importlib.metadata.version("pythae")
    _harness.write_json(os.path.join(args.out, f"pythae_vae_{backend}.json"), {
        "machine": note, "data": source, "ms_per_step": ms, "keras_recon_speed_relative_to_pythae": speed})
    lines = [f"# keras_recon ({backend}) against pythae", "", _harness.note_line(note) +
             f" {source}, batch 100, Adam 1e-3, squared error; median of {args.epochs} epochs after a "
             "warm-up epoch, per step.", "",
             "| trainer | ms / step |", "| --- | --- |",
             f"| pythae `BaseTrainer` (PyTorch, CPU) | {ms['pythae']:.2f} |",
             f"| keras_recon `VAE.fit` on {backend} | {ms['keras_recon']:.2f} |", "",
             f"keras_recon on {backend} runs at **{speed:.2f}x** pythae's speed "
             f"({'at least as fast' if speed >= 1 else 'slower'})."]
    _harness.write_markdown(os.path.join(args.out, f"pythae_vae_{backend}.md"), lines)


if __name__ == "__main__":
    main()
