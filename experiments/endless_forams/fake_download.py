"""A fake Endless Forams download for dry runs of the kit: the real 35 folder names (with the download's
inconsistent spacing), `images/*.jpg`, each image a coloured blob with a black border and a white label strip at the
bottom like the real photographs, a few images per species in proportion to the real counts (at least 4).

    python experiments/endless_forams/fake_download.py OUT [--scale 200]
"""

import argparse
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

# (folder name as in the download, images in the public set)
SPECIES = [
    ("0 - Beella digitata", 40), ("1 - Candeina nitida", 133), ("2 - Globigerina bulloides", 2072),
    ("3 - Globigerina falconensis", 507), ("4 - Globigerinella adamsi", 4), ("5 - Globigerinella calida", 124),
    ("6 - Globigerinella siphonifera", 925), ("7- Globigerinita glutinata", 2107), ("8 - Globigerinita uvula", 7),
    ("9 - Globigerinoides conglobatus", 634), ("10 - Globigerinoides elongatus", 273),
    ("11 - Globigerinoides ruber", 5914), ("12 - Globigerinoides sacculifer", 3007),
    ("13 - Globoquadrina conglomerata", 76), ("14 - Globorotalia crassaformis", 287),
    ("15 - Globorotalia hirsuta", 244), ("16 - Globorotalia inflata", 1538), ("17 - Globorotalia menardii", 1090),
    ("18 - Globorotalia scitula", 332), ("19-Globorotalia truncatulinoides", 1084), ("20 - Globorotalia tumida", 173),
    ("21 - Globorotalia ungulata", 25), ("22 - Globorotaloides hexagonus", 43),
    ("23 - Globoturborotalita rubescens", 238), ("24 - Globoturborotalita tenella", 224),
    ("25 - Hastigerina pelagica", 13), ("26 - Neogloboquadrina dutertrei", 874),
    ("27 - Neogloboquadrina incompta", 2034), ("28 - Neogloboquadrina pachyderma", 2275),
    ("29 - Orbulina universa", 320), ("30 - Pulleniatina obliquiloculata", 532),
    ("31 - Sphaeroidinella dehiscens", 223), ("32 - Tenuitella iota", 8), ("33 - Turborotalita humilis", 46),
    ("34 - Turborotalita quinqueloba", 303),
]


def write_fake_download(out: Path, scale: int = 200, size: int = 96) -> Path:
    rng = np.random.default_rng(0)
    for s, (folder, real) in enumerate(SPECIES):
        images = out / folder / "images"
        images.mkdir(parents=True, exist_ok=True)
        colour = tuple(int(c) for c in rng.integers(60, 255, 3))
        lobes = 2 + s % 5
        for j in range(max(4, real // scale)):
            img = Image.new("RGB", (size, size + size // 8))
            draw = ImageDraw.Draw(img)
            c, r = size / 2 + rng.normal(0, 3, 2), size * (0.18 + 0.02 * (s % 7))
            for lobe in range(lobes):  # chambers around the centre: the species' shape
                a = 2 * np.pi * lobe / lobes + rng.normal(0, 0.2)
                x, y = c + 1.2 * r * np.array([np.cos(a), np.sin(a)])
                draw.ellipse([x - r, y - r, x + r, y + r], fill=colour)
            draw.rectangle([0, size, size, size + size // 8], fill=(255, 255, 255))  # the label strip
            draw.text((4, size + 1), f"{s} {j}", fill=(0, 0, 0))
            img.save(images / f"{folder.split('-')[-1].strip().replace(' ', '_')}_{j:05d}.jpg", quality=90)
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--scale", type=int, default=200, help="one fake image per this many real ones")
    args = parser.parse_args()
    print(write_fake_download(args.out, args.scale))
