"""Untrusted and damaged files: refused or rebuilt, never half-trusted."""

import io
import json
import os
import tarfile
import zipfile

import keras
import numpy as np
import pytest

from keras_recon import metrics
from keras_recon import saving
from keras_recon.losses import LogCosh
from keras_recon.models import VAE
from keras_recon.models import architectures


@pytest.fixture
def saved_vae(tmp_path):
    vae = VAE(*architectures.mlp((8, 8, 1), 2, hidden=(16,)), seed=0)
    vae.compile(optimizer="adam", loss=LogCosh(a=10))
    vae.fit(np.random.default_rng(0).uniform(size=(20, 8, 8, 1)).astype("float32"), epochs=1, verbose=0)
    path = tmp_path / "vae.keras"
    vae.save(path)
    return path


def test_a_sound_file_loads(saved_vae):
    model = saving.load_model(saved_vae)
    assert isinstance(model, VAE)


def test_code_in_a_keras_file_is_refused(tmp_path):
    inputs = keras.Input((3,))
    model = keras.Model(inputs, keras.layers.Lambda(lambda t: t * 2)(inputs))
    path = tmp_path / "lambda.keras"
    model.save(path)
    with pytest.raises(ValueError, match=r"lambda\.keras: .*Lambda.*safe_mode"):
        saving.load_model(path)


def test_truncated_garbage_and_missing_files_are_clear_errors(saved_vae, tmp_path):
    blob = saved_vae.read_bytes()
    truncated = tmp_path / "truncated.keras"
    truncated.write_bytes(blob[: len(blob) // 2])
    with pytest.raises(ValueError, match=r"truncated\.keras: not a \.keras archive \(truncated or corrupted"):
        saving.load_model(truncated)
    garbage = tmp_path / "garbage.keras"
    garbage.write_bytes(b"not a model")
    with pytest.raises(ValueError, match="not a .keras archive"):
        saving.load_model(garbage)
    with pytest.raises(FileNotFoundError, match="absent.keras: no such file"):
        saving.load_model(tmp_path / "absent.keras")


def test_a_flipped_byte_fails_the_crc_check(saved_vae, tmp_path):
    with zipfile.ZipFile(saved_vae) as z:
        info = max(z.infolist(), key=lambda i: i.compress_size)
    blob = bytearray(saved_vae.read_bytes())
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    blob[start + info.compress_size // 2] ^= 0xFF
    damaged = tmp_path / "damaged.keras"
    damaged.write_bytes(bytes(blob))
    with pytest.raises(ValueError, match=r"damaged\.keras: (member .* fails its CRC|unreadable)"):
        saving.load_model(damaged)


def test_classifier_cache_keyed_and_verified(tmp_path, monkeypatch):
    x = np.random.default_rng(0).uniform(size=(64, 28, 28, 1)).astype("float32")
    y = np.arange(64) % 10
    trained = []
    real_train = metrics.classifier.train_classifier

    def counting(*args, **kwargs):
        trained.append(1)
        return real_train(*args, **kwargs)

    monkeypatch.setattr(metrics.classifier, "train_classifier", counting)
    load = lambda key: metrics.load_or_train_classifier(key, x, y, cache_dir=str(tmp_path), epochs=1, verbose=0)  # noqa: E731
    load("a")
    load("a")
    assert len(trained) == 1  # verified cache reused
    load("b")
    assert len(trained) == 2  # another dataset, another key
    meta_path = next(p for p in tmp_path.glob("*_a_*.json"))
    meta = json.loads(meta_path.read_text())
    meta_path.write_text(json.dumps({**meta, "sha256": "0" * 64}))
    load("a")
    assert len(trained) == 3  # checksum mismatch: retrained, not used
    cached = next(tmp_path.glob("*_a_*.keras"))
    cached.write_bytes(cached.read_bytes()[:200])
    meta_path.write_text(json.dumps({**meta, "sha256": metrics.classifier._sha256(cached)}))
    load("a")
    assert len(trained) == 4  # checksum of a broken file matches, but it does not load: retrained


def _tar(path, members):
    with tarfile.open(path, "w:gz") as tar:
        for info, payload in members:
            tar.addfile(info, io.BytesIO(payload) if payload is not None else None)


def _file(name, payload=b"x"):
    info = tarfile.TarInfo(name)
    info.size = len(payload)
    return info, payload


def _link(name, target, kind=tarfile.SYMTYPE):
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, target
    return info, None


@pytest.mark.parametrize("member", [
    _file("../escape.txt"),
    _file("/tmp/keras_recon_absolute_escape.txt"),
    _file("ok/../../escape.txt"),
    _link("innocent", "../../escape.txt"),
    _link("hard", "/etc/passwd", tarfile.LNKTYPE),
])
def test_archive_extraction_cannot_write_outside_its_folder(tmp_path, member):
    archive = tmp_path / "crafted.tar.gz"
    _tar(archive, [_file("data/a.jpg"), member])
    target = tmp_path / "deep" / "target"
    with pytest.raises(ValueError, match="outside"):
        saving.extract_archive(archive, target)
    assert not (tmp_path / "escape.txt").exists() and not (tmp_path / "deep" / "escape.txt").exists()
    assert not os.path.exists("/tmp/keras_recon_absolute_escape.txt")
    assert not (target / "data" / "a.jpg").exists()  # checked before anything is written


def test_zip_slip_is_refused_and_a_sound_archive_extracts(tmp_path):
    bad = tmp_path / "bad.zip"
    with zipfile.ZipFile(bad, "w") as z:
        z.writestr("../evil.txt", "x")
    with pytest.raises(ValueError, match="outside"):
        saving.extract_archive(bad, tmp_path / "t1")
    good = tmp_path / "good.tar.gz"
    _tar(good, [_file("train/cat/0001.jpg", b"jpeg"), _link("train/latest", "cat/0001.jpg")])
    out = saving.extract_archive(good, tmp_path / "t2")
    assert open(os.path.join(out, "train", "cat", "0001.jpg"), "rb").read() == b"jpeg"
