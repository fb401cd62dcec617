import numpy as np
import pytest
import torch
from PIL import Image

from forams_lightning.data.images import load_rgb
from forams_lightning.data.transforms import Augmentation, CropBorder, Letterbox, build_transform


def test_letterbox_keeps_aspect_and_pads_black():
    img = Image.new("RGB", (100, 50), (255, 255, 255))
    out = np.asarray(Letterbox(64)(img))
    assert out.shape == (64, 64, 3)
    assert (out[16:48] == 255).all() and (out[:16] == 0).all() and (out[48:] == 0).all()


def test_crop_border_removes_label_strip_and_dark_frame():
    arr = np.zeros((100, 80, 3), np.uint8)
    arr[10:60, 20:50] = 200  # the shell
    arr[90:, :] = 255  # a white label strip at the bottom
    out = CropBorder(bottom_fraction=0.2, dark_threshold=20)(Image.fromarray(arr))
    assert out.size == (30, 50)


def test_eval_transform_is_deterministic_and_train_is_not():
    rng = np.random.default_rng(0)
    img = Image.fromarray(rng.integers(0, 255, (40, 30, 3), dtype=np.uint8))
    ev, tr = build_transform(32), build_transform(32, augment=Augmentation())
    assert ev(img).shape == (3, 32, 32) and ev(img).max() <= 1.0
    assert (ev(img) == ev(img)).all()
    assert any((tr(img) != tr(img)).any() for _ in range(3))


def test_augmentation_without_rotation_only_flips():
    # Micro-CT slices share the scan's frame: with rotation 0 the training views are the four flips of the image.
    img = Image.fromarray(np.random.default_rng(1).integers(0, 255, (32, 32, 3), dtype=np.uint8))
    ev = build_transform(32)(img)
    flips = [ev, ev.flip(1), ev.flip(2), ev.flip(1).flip(2)]
    tr = build_transform(32, augment=Augmentation(rotation=0, color_jitter=0, blur=0))
    views = [tr(img) for _ in range(20)]
    assert all(any(torch.equal(v, f) for f in flips) for v in views)
    assert not all(torch.equal(v, ev) for v in views)


def test_gpu_augmentation_follows_the_recipe():
    from forams_lightning.data.gpu_augment import GPUAugmentation

    torch.manual_seed(0)
    images = torch.rand(16, 3, 8, 8)
    flips_only = GPUAugmentation(Augmentation(rotation=0, color_jitter=0, blur=0))(images)
    for out, img in zip(flips_only, images):
        assert any(torch.allclose(out, f) for f in (img, img.flip(1), img.flip(2), img.flip(1).flip(2)))
    nothing = GPUAugmentation(Augmentation(rotation=0, flips=False, color_jitter=0, blur=0))
    assert torch.equal(nothing(images), images)
    assert not torch.allclose(GPUAugmentation(Augmentation())(images), images)


def test_zoom_scales_the_shell_within_the_range():
    # A 16×16 white square in a 32×32 frame: zoom by up to 1.5 either way gives squares of ~11-24 px a side.
    from forams_lightning.data.gpu_augment import GPUAugmentation

    arr = np.zeros((32, 32, 3), np.uint8)
    arr[8:24, 8:24] = 255
    recipe = Augmentation(rotation=0, flips=False, color_jitter=0, blur=0, scale=0.5)
    assert recipe.zoom_range() == pytest.approx((1 / 1.5, 1.5))
    tr = build_transform(32, augment=recipe)
    torch.manual_seed(0)
    cpu = torch.stack([tr(Image.fromarray(arr)) for _ in range(40)])
    gpu = GPUAugmentation(recipe)(torch.from_numpy(arr).permute(2, 0, 1).float().div(255).expand(40, 3, 32, 32))
    for views in (cpu, gpu):
        side = (views[:, 0] > 0.5).sum((1, 2)).float().sqrt()
        assert side.min() < 14 and side.max() > 19
        assert ((side > 9) & (side < 26)).all()


def test_augmentation_options_name_the_bad_key():
    assert Augmentation.from_options({"rotation": 0}) == Augmentation(rotation=0)
    with pytest.raises(TypeError, match="'rotate'"):
        Augmentation.from_options({"rotate": 0})
    recipe = Augmentation(scale=0.1)
    assert Augmentation.from_options(recipe) is recipe
    with pytest.raises(ValueError, match=r"data.augment: \['scale'\] must be >= 0"):
        Augmentation.from_options({"scale": -0.2})
    with pytest.raises(ValueError, match=r"data.augment: \['blur'\]"):
        Augmentation(blur=1.5)


@pytest.mark.parametrize("mode,make", [
    ("L", lambda: Image.new("L", (8, 6), 128)),
    ("RGBA", lambda: Image.new("RGBA", (8, 6), (255, 0, 0, 0))),
    ("I;16", lambda: Image.fromarray(np.linspace(1000, 60000, 48, dtype=np.uint16).reshape(6, 8))),
    ("P", lambda: Image.new("RGB", (8, 6), (10, 200, 30)).convert("P")),
])
def test_load_rgb_converts_modes(tmp_path, mode, make):
    path = tmp_path / f"img.{'tif' if mode == 'I;16' else 'png'}"
    make().save(path)
    out = load_rgb(path)
    assert out.mode == "RGB" and out.size == (8, 6)
    arr = np.asarray(out)
    if mode == "RGBA":  # fully transparent pixels become the black background
        assert arr.max() == 0
    if mode == "I;16":  # 16-bit range stretched to 8 bits, not clipped
        assert arr.min() == 0 and arr.max() == 255


def test_load_rgb_exif_orientation_is_optional(tmp_path):
    path = tmp_path / "tagged.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    Image.new("RGB", (8, 6), (200, 10, 10)).save(path, exif=exif)
    assert load_rgb(path).size == (6, 8)
    assert load_rgb(path, exif_transpose=False).size == (8, 6)
