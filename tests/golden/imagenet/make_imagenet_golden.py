"""Golden files for the ImageNet-64 readers, made with Debian's python3-numpy and python3-pil (run: /usr/bin/python3
tests/golden/imagenet/make_imagenet_golden.py). Writes:
  folder/...                         a guided-diffusion image folder (PNG: lossless, so decoding is exact)
  folder_expected_r16.npz            center_crop_arr(image, 16) of every image, in the reference's listing order, and
                                     the class indices its load_data assigns
  train_data_batch_1.npz, val_data.npz   downsampled-ImageNet-style batches (8x8, labels 1-based)
The crop is guided-diffusion's center_crop_arr (BOX halving, BICUBIC resize, centre crop), restated here."""
import os
import numpy as np
from PIL import Image

here = os.path.dirname(os.path.abspath(__file__))
rng = np.random.RandomState(7)


def center_crop_arr(pil_image, image_size):
    while min(*pil_image.size) >= 2 * image_size:
        pil_image = pil_image.resize(tuple(x // 2 for x in pil_image.size), resample=Image.BOX)
    scale = image_size / min(*pil_image.size)
    pil_image = pil_image.resize(tuple(round(x * scale) for x in pil_image.size), resample=Image.BICUBIC)
    arr = np.array(pil_image)
    crop_y = (arr.shape[0] - image_size) // 2
    crop_x = (arr.shape[1] - image_size) // 2
    return arr[crop_y : crop_y + image_size, crop_x : crop_x + image_size]


def smooth(h, w, c):
    # Smooth structure plus noise: resampling must get both right.
    y, x = np.mgrid[0:h, 0:w]
    base = 127 + 90 * np.sin(x[..., None] / 7.0 + np.arange(c)) * np.cos(y[..., None] / 5.0)
    return np.clip(base + rng.randint(-30, 31, size=(h, w, c)), 0, 255).astype(np.uint8)


folder = os.path.join(here, "folder")
images = [
    ("n02_b.png", Image.fromarray(smooth(150, 97, 3), "RGB")),               # halved twice, then bicubic
    ("n01_a.png", Image.fromarray(smooth(40, 23, 3), "RGB")),                # upscaled bicubic
    (os.path.join("sub", "n01_c.png"), Image.fromarray(smooth(33, 64, 1)[..., 0], "L")),   # gray, in a subfolder
    (os.path.join("sub", "n03_d.png"), Image.fromarray(smooth(16, 16, 4), "RGBA")),        # alpha dropped
    ("README.txt", None),                                                    # not an image: skipped
]
for name, image in images:
    path = os.path.join(folder, name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if image is None:
        open(path, "w").write("not an image\n")
    else:
        image.save(path)


def listing(d):   # guided-diffusion's _list_image_files_recursively
    out = []
    for entry in sorted(os.listdir(d)):
        full = os.path.join(d, entry)
        ext = entry.split(".")[-1]
        if "." in entry and ext.lower() in ["jpg", "jpeg", "png", "gif"]:
            out.append(full)
        elif os.path.isdir(full):
            out.extend(listing(full))
    return out


files = listing(folder)
names = [os.path.basename(p).split("_")[0] for p in files]
classes = {x: i for i, x in enumerate(sorted(set(names)))}
crops = np.stack([center_crop_arr(Image.open(p).convert("RGB"), 16) for p in files])
np.savez(os.path.join(here, "folder_expected_r16.npz"), images=crops, labels=np.array([classes[n] for n in names], dtype=np.int64),
         files=np.array([os.path.relpath(p, folder) for p in files]).astype("S"))

for name, count in (("train_data_batch_1.npz", 6), ("val_data.npz", 3)):
    data = rng.randint(0, 256, size=(count, 3 * 8 * 8)).astype(np.uint8)
    labels = list(rng.randint(1, 1001, size=count))
    np.savez(os.path.join(here, name), data=data, labels=labels, mean=data.mean(axis=0))
print("wrote", here)
