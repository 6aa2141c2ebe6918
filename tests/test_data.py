"""Reading MNIST: real files, bad files, a missing directory, and the batching helpers."""

import gzip
import struct

import pytest
import torch

from conftest import picture_folder
from vae_core import data


def _idx(shape):
    header = struct.pack(">BBBB", 0, 0, 0x08, len(shape)) + b"".join(struct.pack(">I", s) for s in shape)
    n = 1
    for s in shape:
        n *= s
    return header + bytes(i % 256 for i in range(n))


def test_reads_real_mnist(mnist):
    assert mnist.train_images.shape == (60000, 28, 28) and mnist.train_images.dtype == torch.uint8
    assert mnist.test_images.shape == (10000, 28, 28)
    assert mnist.train_labels.shape == (60000,) and set(mnist.test_labels.unique().tolist()) == set(range(10))
    assert mnist.train_labels[:5].tolist() == [5, 0, 4, 1, 9]  # the original order


def test_idx_round_trip_plain_and_gzipped(tmp_path):
    raw = _idx((3, 4, 5))
    (tmp_path / "a").write_bytes(raw)
    (tmp_path / "b.gz").write_bytes(gzip.compress(raw))
    for name in ("a", "b.gz"):
        t = data.read_idx(tmp_path / name)
        assert t.shape == (3, 4, 5) and t.dtype == torch.uint8 and t.flatten()[:3].tolist() == [0, 1, 2]


@pytest.mark.parametrize("content, message", [
    (b"\x00\x00\x0d\x03" + b"\x00" * 20, "magic"),  # floats, not unsigned bytes
    (b"PK\x03\x04zipfile", "magic"),
    (_idx((10, 28, 28))[:-100], "truncated"),
    (_idx((10, 28, 28)) + b"extra", "truncated or padded"),
])
def test_bad_files_give_a_clear_error(tmp_path, content, message):
    path = tmp_path / "bad-idx3-ubyte"
    path.write_bytes(content)
    with pytest.raises(data.DataError, match=message) as e:
        data.read_idx(path)
    assert str(path) in str(e.value)


def test_wrong_sizes_are_refused(tmp_path):
    for key, name in data.FILES.items():
        shape = (100, 28, 28) if "images" in key else (100,)
        (tmp_path / name).write_bytes(_idx(shape))
    with pytest.raises(data.DataError, match="expected \\(60000, 28, 28\\)"):
        data.load_mnist(tmp_path, download=False)


def test_missing_directory_names_it_and_the_four_files(tmp_path, monkeypatch):
    monkeypatch.delenv("VAE_DATA_DIR", raising=False)
    with pytest.raises(data.DataError) as e:
        data.load_mnist(tmp_path / "nowhere", download=False)
    text = str(e.value)
    assert "nowhere" in text and all(name in text for name in data.FILES.values()) and "VAE_DATA_DIR" in text


def test_data_dir_resolution(monkeypatch):
    monkeypatch.setenv("VAE_DATA_DIR", "/some/where")
    assert str(data.resolve_data_dir()) == "/some/where"
    assert str(data.resolve_data_dir("given")) == "given"
    monkeypatch.delenv("VAE_DATA_DIR")
    assert str(data.resolve_data_dir()) == "data"


def test_split_binarize_and_batches(mnist):
    (tr, _), (va, _) = data.split_train_val(mnist.train_images, mnist.train_labels, 5000)
    assert len(tr) == 55000 and len(va) == 5000 and torch.equal(va, mnist.train_images[-5000:])
    a, b = data.binarized_test_set(mnist.test_images[:50]), data.binarized_test_set(mnist.test_images[:50])
    assert torch.equal(a, b) and set(a.unique().tolist()) <= {0.0, 1.0}  # fixed seed, binary
    x = data.to_float(mnist.test_images[:200])
    b = data.binarize(x)
    assert set(b.unique().tolist()) == {0.0, 1.0}
    # Each pixel is a Bernoulli draw with the grey level as its probability: the means agree closely
    # (156,800 draws), and a pixel that is 0 or 1 stays so.
    assert abs(b.mean() / x.mean() - 1) < 0.02
    assert torch.equal(b[x == 0], x[x == 0]) and torch.equal(b[x == 1], x[x == 1])
    idx = list(data.batches(10, 4, torch.Generator().manual_seed(0)))
    assert [len(i) for i in idx] == [4, 4, 2] and sorted(torch.cat(idx).tolist()) == list(range(10))


def test_the_test_set_ships_with_the_project_for_offline_use(mnist, tmp_path):
    images, labels = data.load_test_set(tmp_path / "empty")  # no data directory: the embedded copy
    assert torch.equal(images, mnist.test_images) and torch.equal(labels, mnist.test_labels)
    assert (data.EMBEDDED_TEST_DIR / "README.md").read_text().count("CC BY-SA 3.0") >= 1


def test_a_folder_of_images_is_a_dataset_with_its_subfolders_as_classes_and_a_fixed_split(tmp_path):
    folder = picture_folder(tmp_path / "shapes", broken=True)
    ds = data.load_dataset(folder)
    assert ds.classes == ("bar", "circle") and ds.name == str(folder.resolve())
    assert len(ds.train_images) + len(ds.test_images) == 20 and len(ds.test_images) == 3  # the 2 bad files left out
    assert ds.train_images.dtype == torch.uint8 and ds.train_images.shape[1:] == (28, 28)
    assert set(ds.train_labels.tolist()) == {0, 1}
    again = data.load_dataset(folder)
    assert torch.equal(again.test_images, ds.test_images) and torch.equal(again.test_labels, ds.test_labels)
    flat = tmp_path / "flat"  # no sub-folders: one class, named after the folder
    flat.mkdir()
    for f in list((folder / "circle").glob("*.png"))[:4]:
        (flat / f.name).write_bytes(f.read_bytes())
    assert data.load_dataset(flat).classes == ("flat",)
    (tmp_path / "empty").mkdir()
    with pytest.raises(data.DataError, match="fewer than two readable images"):
        data.load_dataset(tmp_path / "empty")
    with pytest.raises(data.DataError, match="unknown dataset 'cifar'"):
        data.load_dataset("cifar")


@pytest.fixture(scope="session")
def fashion():
    import os

    try:
        return data.load_dataset("fashion-mnist", download=False)
    except data.DataError as e:
        if os.environ.get("CI"):
            pytest.fail(f"Fashion-MNIST not found: set VAE_FASHION_DIR (CI uses ../shared/data/fashion-mnist) ({e})")
        pytest.skip(f"Fashion-MNIST not found: set VAE_FASHION_DIR ({e})")


def test_fashion_mnist_reads_with_the_same_reader_and_names_its_classes(fashion, mnist):
    assert fashion.train_images.shape == (60000, 28, 28) and fashion.test_images.shape == (10000, 28, 28)
    assert fashion.classes[9] == "Ankle boot" and fashion.name == "fashion-mnist"
    assert not torch.equal(fashion.test_images[:10], mnist.test_images[:10])
    assert data.DATASETS["fashion-mnist"].env == "VAE_FASHION_DIR"
