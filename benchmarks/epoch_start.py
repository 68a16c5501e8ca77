"""The wait at the start of each epoch on TensorFlow, and what removes it:
plain Keras on in-memory arrays, and on `tf.data` pipelines of the same
arrays with and without tf.data's autotuning.

    KERAS_BACKEND=tensorflow python -m benchmarks.epoch_start

`benchmarks.epoch_scaling` showed TensorFlow epochs that wait up to seconds
before their first batch. A native profile (py-spy) puts the wait in the destructor of the last epoch's iterator,
which waits for the thread that autotunes the pipeline to end its sleep
(`UnboundedThreadPool::LogicalThreadWrapper::~LogicalThreadWrapper` under
`RootDataset::Iterator::~Iterator`). A plain Keras MLP autoencoder (the
layer sizes of Chen et al.'s MLP VAE, squared error) is fitted on the 60,000 MNIST
training digits for `--epochs` epochs per feed; a callback records each
epoch's time and its wait from the epoch's start to its first batch.
Writes `benchmarks/results/epoch_start_<backend>.{json,md}`.
"""

import os
import statistics

import keras

from benchmarks import _harness
from keras_recon import data


def plain_autoencoder():
    layers = keras.layers
    model = keras.Sequential([
        keras.Input((28, 28, 1)), layers.Flatten(), layers.Dense(500, "relu"), layers.Dense(500, "relu"),
        layers.Dense(8), layers.Dense(500, "relu"), layers.Dense(500, "relu"), layers.Dense(784, "sigmoid"),
        layers.Reshape((28, 28, 1)),
    ])
    model.compile(optimizer="adam", loss="mse")
    return model


def main():
    parser = _harness.argument_parser(__doc__)
    parser.add_argument("--epochs", type=int, default=8)
    args = parser.parse_args()
    x, _ = data.load_mnist(args.data_dir, "train")
    backend = keras.backend.backend()
    keras.utils.set_random_seed(0)
    model = plain_autoencoder()
    model.fit(x[:10000], x[:10000], epochs=1, batch_size=100, verbose=0)  # warm-up
    feeds = {"arrays, `shuffle=False`": ((x, x), {"batch_size": 100, "shuffle": False})}
    if backend == "tensorflow":
        import tensorflow as tf

        pipeline = tf.data.Dataset.from_tensor_slices((x, x)).batch(100).prefetch(2)
        untuned = tf.data.Options()
        untuned.autotune.enabled = False
        feeds["`tf.data` from the arrays"] = ((pipeline,), {})
        feeds["`tf.data` from the arrays, `autotune.enabled = False`"] = ((pipeline.with_options(untuned),), {})
    rows = {}
    for name, (inputs, kwargs) in feeds.items():
        timer = _harness.EpochTimer()
        model.fit(*inputs, epochs=args.epochs, verbose=0, callbacks=[timer], **kwargs)
        rows[name] = {"epoch_s": timer.seconds, "wait_s": timer.waits}
    note = _harness.machine_note()
    _harness.write_json(os.path.join(args.out, f"epoch_start_{backend}.json"), {"machine": note, "rows": rows})
    lines = [f"# Plain Keras: the wait before each epoch's first batch, {backend}", "",
             f"{_harness.note_line(note)} No keras_recon model: a Keras `Sequential` MLP autoencoder, "
             f"squared error, batch 100, 60,000 MNIST digits, {args.epochs} epochs per feed after a warm-up "
             "fit, the feeds one after another. The wait is the last epoch's iterator being destroyed, "
             "which waits for tf.data's autotuning thread (see the script's docstring).", "",
             "| feed | wait before the first batch, each epoch (s) | epochs waiting > 0.1 s | median epoch (s) |",
             "| --- | --- | --- | --- |"]
    for name, row in rows.items():
        waits = ", ".join(f"{w:.2f}" for w in row["wait_s"])
        slow = sum(w > 0.1 for w in row["wait_s"])
        lines.append(f"| {name} | {waits} | {slow} of {len(row['wait_s'])} | "
                     f"{statistics.median(row['epoch_s']):.2f} |")
    _harness.write_markdown(os.path.join(args.out, f"epoch_start_{backend}.md"), lines)


if __name__ == "__main__":
    main()
