"""The procedural foraminifera library: the embedded default dataset.

Each species is a set of shell-morphology parameters (coiling mode, chambers in the final whorl, chamber growth and
inflation, spire height, aperture, keel, pores, spines, colour). Species of one genus share an archetype and a few
species are look-alike "sisters" that differ in one subtle trait, so genus-level confusions exist as in real forams.
Every image draws its own within-species variation, orientation, viewpoint (spiral or umbilical side, tilt),
lighting, background and noise. Species sizes follow a long tail like Endless Forams.

The library is written in the Endless Forams download layout (``N - Genus species/images/*.jpg``) and is a pure
function of its parameters: image (species s, index j) is drawn from ``default_rng([seed, s, j])``.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

GENERA = [
    "Globosynthia", "Pseudorotalia", "Fictoquadrina", "Simulinella", "Artefactoides", "Procedurina",
    "Pixelligerina", "Renderotalia", "Voxelina", "Algorithmella", "Stochastina", "Fractalina",
]
EPITHETS = [
    "alba", "rosea", "minuta", "magna", "spinosa", "laevis", "inflata", "compressa", "quadrata", "obliqua",
    "carinata", "bulbosa", "tenuis", "robusta", "globosa", "plana", "elongata", "umbilicata", "aperta", "hirsuta",
    "nitida", "parva", "crassa", "dubia", "similis", "affinis", "lobata", "conica", "depressa", "gibba",
    "ornata", "pelagica", "truncata", "tumida", "digitata", "falsa",
]
COLOURS = {
    "white": (0.92, 0.90, 0.85), "cream": (0.88, 0.82, 0.66), "pink": (0.92, 0.70, 0.72),
    "tan": (0.74, 0.60, 0.44), "grey": (0.70, 0.72, 0.74), "amber": (0.85, 0.66, 0.38),
}
COILING = ("trochospiral", "planispiral", "globular")


@dataclass(frozen=True)
class Morphology:
    """Mean shell traits of one species."""

    coiling: str
    chambers: float  # chambers in the final whorl (fractional: a within-species mix of n and n+1)
    growth: float  # radius ratio between successive chambers
    spacing: float  # distance of a chamber from the coiling axis, in chamber radii (small = compact, involute)
    inflation: float  # radial / tangential chamber axis ratio
    spire: float  # height of the older whorls (trochospiral) as shading
    aperture: float  # aperture size relative to the last chamber
    keel: float  # bright peripheral rim
    pores: float  # surface roughness
    spines: float  # number and length of spines
    colour: tuple[float, float, float]


@dataclass(frozen=True)
class SyntheticSpec:
    """Parameters of one generated library; the cache folder name is derived from them."""

    n_species: int = 35
    max_images: int = 300
    min_images: int = 8
    tail: float = 1.1  # Zipf exponent of the species-size distribution
    image_size: int = 96
    seed: int = 0
    sister_fraction: float = 0.35  # share of species that are a look-alike of the previous one
    difficulty: float = 1.0  # scales within-species variation and imaging noise

    def counts(self) -> list[int]:
        return [max(self.min_images, round(self.max_images * (i + 1) ** -self.tail)) for i in range(self.n_species)]

    def digest(self) -> str:
        return hashlib.sha1(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()[:10]


def _genus_archetype(rng: np.random.Generator) -> Morphology:
    coiling = COILING[rng.integers(3)]
    compact = coiling == "globular"
    return Morphology(
        coiling=coiling,
        chambers=float(rng.integers(3, 5) if compact else rng.integers(4, 8)),
        growth=float(rng.uniform(1.35, 1.7) if compact else rng.uniform(1.08, 1.35)),
        spacing=float(rng.uniform(0.75, 1.0) if compact else rng.uniform(1.05, 1.6)),
        inflation=float(rng.uniform(0.9, 1.2) if compact else rng.uniform(0.6, 1.15)),
        spire=float(rng.uniform(0.0, 1.0)),
        aperture=float(rng.uniform(0.15, 0.5)),
        keel=float(rng.choice([0.0, 0.0, rng.uniform(0.4, 1.0)])),
        pores=float(rng.uniform(0.0, 1.0)),
        spines=float(rng.choice([0.0, 0.0, rng.uniform(0.3, 1.0)])),
        colour=COLOURS[list(COLOURS)[rng.integers(len(COLOURS))]],
    )


def _species_from(base: Morphology, rng: np.random.Generator, spread: float) -> Morphology:
    """A species near `base`: every trait moves by `spread` of its natural range."""

    def nudge(value, scale, lo, hi):
        return float(np.clip(value + rng.normal(0, scale * spread), lo, hi))

    colour = tuple(float(np.clip(c + rng.normal(0, 0.06 * spread), 0.2, 1.0)) for c in base.colour)
    return replace(
        base,
        chambers=nudge(base.chambers, 1.0, 3, 8),
        growth=nudge(base.growth, 0.12, 1.04, 1.8),
        spacing=nudge(base.spacing, 0.2, 0.7, 1.7),
        inflation=nudge(base.inflation, 0.2, 0.55, 1.3),
        spire=nudge(base.spire, 0.4, 0.0, 1.0),
        aperture=nudge(base.aperture, 0.15, 0.05, 0.6),
        keel=nudge(base.keel, 0.4, 0.0, 1.0),
        pores=nudge(base.pores, 0.4, 0.0, 1.0),
        spines=nudge(base.spines, 0.3, 0.0, 1.0),
        colour=colour,
    )


def _sister_of(base: Morphology, rng: np.random.Generator) -> Morphology:
    """A look-alike: the same shell but for one diagnostic trait, as in G. ruber pink vs white."""
    trait = rng.integers(5)
    if trait == 0:
        return replace(base, chambers=base.chambers + (1 if base.chambers < 6 else -1))
    if trait == 1:
        return replace(base, colour=COLOURS["pink"] if base.colour != COLOURS["pink"] else COLOURS["white"])
    if trait == 2:
        return replace(base, aperture=0.55 if base.aperture < 0.3 else 0.1)
    if trait == 3:
        return replace(base, spines=0.8 if base.spines < 0.3 else 0.0)
    return replace(base, keel=0.9 if base.keel < 0.3 else 0.0, inflation=base.inflation * 0.8)


def species_catalogue(spec: SyntheticSpec) -> list[tuple[str, Morphology]]:
    """Names and mean morphologies of all species, deterministic in `spec.seed`."""
    rng = np.random.default_rng([spec.seed, 10_000])
    n_genera = max(1, math.ceil(spec.n_species / 3))
    archetypes = [_genus_archetype(rng) for _ in range(n_genera)]
    species, used = [], set()
    for i in range(spec.n_species):
        g = rng.integers(n_genera) if i >= n_genera else i
        if species and rng.random() < spec.sister_fraction:
            genus = species[-1][0].split()[0]
            morph = _sister_of(species[-1][1], rng)
        else:
            genus = GENERA[g % len(GENERA)] + ("" if g < len(GENERA) else f"{g // len(GENERA) + 1}")
            morph = _species_from(archetypes[g], rng, spread=1.0)
        epithet = next(e for e in rng.permutation(EPITHETS) if f"{genus} {e}" not in used)
        used.add(f"{genus} {epithet}")
        species.append((f"{genus} {epithet}", morph))
    return species


def render(morph: Morphology, rng: np.random.Generator, size: int, difficulty: float = 1.0) -> Image.Image:
    """Draw one specimen of `morph` with its own variation, pose, lighting and noise."""
    d = difficulty
    jit = lambda v, s, lo, hi: float(np.clip(v + rng.normal(0, s * d), lo, hi))  # noqa: E731
    n_final = max(1, int(round(jit(morph.chambers, 0.35, 2.5, 8.4))))
    growth = jit(morph.growth, 0.04, 1.03, 1.9)
    spacing = jit(morph.spacing, 0.06, 0.6, 1.8)
    inflation = jit(morph.inflation, 0.06, 0.5, 1.4)
    umbilical = rng.random() < 0.5  # which side faces the camera
    whorls = 1 if (umbilical or morph.coiling == "globular") else (2 if morph.coiling == "planispiral" else 3)
    n = n_final * whorls
    turn = rng.choice([-1.0, 1.0])
    theta0 = rng.uniform(0, 2 * math.pi)

    # Chambers along a logarithmic spiral, oldest first so that younger chambers are drawn on top.
    idx = np.arange(n)
    radius = growth ** (idx - (n - 1))
    angle = theta0 + turn * idx * 2 * math.pi / n_final
    dist = spacing * radius * (1 + 0.15 * np.sin(idx))  # mild irregularity of the spiral
    if morph.coiling == "globular":
        dist = dist * 0.8
    cx, cy = dist * np.cos(angle), dist * np.sin(angle)
    if morph.coiling == "trochospiral" and not umbilical:
        z0 = morph.spire * 0.6 * (n - 1 - idx) / max(n - 1, 1)  # the spire rises towards the oldest whorl
    else:
        z0 = np.zeros(n)
    extent = np.max(np.hypot(cx, cy) + radius * max(1.0, inflation)) * (1 + 0.35 * morph.spines)
    scale = rng.uniform(0.78, 0.92) / extent

    # Viewpoint: a tilt foreshortens one axis (orientation in the image plane is random through theta0 already).
    tilt_axis = rng.uniform(0, math.pi)
    tilt = rng.uniform(0.75 if d > 0 else 1.0, 1.0)
    lin = (np.arange(size) + 0.5) / size * 2 - 1
    X, Y = np.meshgrid(lin, lin)
    ca, sa = math.cos(tilt_axis), math.sin(tilt_axis)
    U = ca * X + sa * Y
    V = (-sa * X + ca * Y) / tilt
    X, Y = ca * U - sa * V, sa * U + ca * V

    height = np.full((size, size), -np.inf)
    normal = np.zeros((size, size, 3))
    rim = np.zeros((size, size))
    owner = np.full((size, size), -1)
    for i in range(n):
        r = radius[i] * scale
        ax_rad = r * inflation  # along the spiral radius
        ax_tan = r
        ux, uy = math.cos(angle[i]), math.sin(angle[i])
        du = (X - cx[i] * scale) * ux + (Y - cy[i] * scale) * uy
        dv = -(X - cx[i] * scale) * uy + (Y - cy[i] * scale) * ux
        q = (du / ax_rad) ** 2 + (dv / ax_tan) ** 2
        inside = q < 1
        z = z0[i] * scale + r * np.sqrt(np.clip(1 - q, 0, 1))
        top = inside & (z > height)
        height[top] = z[top]
        nu, nv = du / ax_rad, dv / ax_tan
        nz = np.sqrt(np.clip(1 - q, 0, 1))
        nx, ny = nu * ux - nv * uy, nu * uy + nv * ux
        normal[top] = np.stack([nx[top], ny[top], nz[top]], -1)
        rim[top] = q[top]
        owner[top] = i
    shell = owner >= 0

    light = np.array([*(rng.normal(0, 0.6, 2)), 1.0])
    light /= np.linalg.norm(light)
    diffuse = np.clip(normal @ light, 0, 1)
    spec = diffuse ** 24 * 0.35
    albedo = np.ones((size, size))
    albedo *= 1 - 0.55 * rim**6  # sutures darken where chambers meet
    if morph.keel > 0.05:
        albedo += morph.keel * 0.6 * ((rim > 0.8) & (owner >= n - n_final))
    pores = rng.random((size, size)) < 0.12 * morph.pores
    albedo *= 1 - 0.45 * pores
    if umbilical or morph.coiling != "trochospiral":  # aperture on the last chamber, facing the coiling axis
        last = n - 1
        ax, ay = cx[last] * scale, cy[last] * scale
        norm = math.hypot(ax, ay) or 1.0
        ap_r = radius[last] * scale * jit(morph.aperture, 0.03, 0.03, 0.7)
        px, py = ax - ax / norm * radius[last] * scale * 0.55, ay - ay / norm * radius[last] * scale * 0.55
        hole = ((X - px) ** 2 / (ap_r * 1.6) ** 2 + (Y - py) ** 2 / ap_r**2 < 1) & shell
        albedo[hole] = 0.08
    colour = np.clip(np.array(morph.colour) + rng.normal(0, 0.03 * d, 3), 0, 1)
    shade = 0.25 + 0.75 * diffuse
    rgb = (albedo * shade)[..., None] * colour + spec[..., None]

    background = rng.uniform(0.0, 0.12) + rng.normal(0, 0.015, (size, size))
    bg_grad = rng.uniform(-0.05, 0.05) * X
    rgb = np.where(shell[..., None], rgb, (background + bg_grad)[..., None] * np.ones(3))
    img = Image.fromarray((np.clip(rgb, 0, 1) * 255).astype(np.uint8))

    if morph.spines > 0.05:
        draw = ImageDraw.Draw(img)
        n_spines = int(morph.spines * 40 * rng.uniform(0.7, 1.3))
        c_s = np.array(colour) * 255
        for _ in range(n_spines):
            i = rng.integers(max(0, n - n_final), n)
            a = angle[i] + rng.normal(0, 0.9)
            r = radius[i] * scale
            x0 = cx[i] * scale + r * math.cos(a)
            y0 = cy[i] * scale + r * math.sin(a)
            length = r * morph.spines * rng.uniform(0.4, 1.0)
            pts = [((x + 1) / 2 * size, (y + 1) / 2 * size) for x, y in
                   [(x0, y0), (x0 + length * math.cos(a), y0 + length * math.sin(a))]]
            draw.line(pts, fill=tuple(int(v) for v in c_s * rng.uniform(0.6, 0.9)), width=1)

    blur = rng.uniform(0, 0.8 * d) * size / 96
    if blur > 0.05:
        img = img.filter(ImageFilter.GaussianBlur(blur))
    noise = rng.normal(0, rng.uniform(1, 6 * d + 1), (size, size, 1))
    arr = np.clip(np.asarray(img, dtype=np.float32) + noise, 0, 255).astype(np.uint8)
    return Image.fromarray(arr)


def generate_library(root: str | os.PathLike, spec: SyntheticSpec) -> Path:
    """Write the library of `spec` into `root` unless a complete one is there already; returns `root`.

    The folder is filled in a temporary sibling and renamed at the end, so an interrupted run leaves no half library.
    """
    root = Path(root)
    marker = root / "_synthetic.json"
    if marker.exists() and json.loads(marker.read_text()).get("digest") == spec.digest():
        return root
    if root.exists():
        raise FileExistsError(f"{root} exists but is not the synthetic library {spec}; "
                              "delete it or choose another root")
    root.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=root.name + ".", dir=root.parent))
    try:
        for s, ((name, morph), count) in enumerate(zip(species_catalogue(spec), spec.counts())):
            folder = tmp / f"{s} - {name}" / "images"
            folder.mkdir(parents=True)
            for j in range(count):
                img = render(morph, np.random.default_rng([spec.seed, s, j]), spec.image_size, spec.difficulty)
                img.save(folder / f"{s:02d}_{j:05d}.jpg", quality=92)
        (tmp / "_synthetic.json").write_text(json.dumps({"digest": spec.digest(), "spec": asdict(spec)}, indent=1))
        os.replace(tmp, root)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return root
