"""Find unreadable images when a library is indexed, before a run depends on them."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor

from forams_lightning.data.images import try_load_rgb

log = logging.getLogger(__name__)
ON_BAD_IMAGE = ("skip", "error")


def unreadable_images(paths: list[str], workers: int = 4) -> dict[str, str]:
    """{path: error} of the files that cannot be decoded as images. A full decode: truncated JPEGs pass PIL's
    header-only verify(). PIL decodes outside the GIL, so threads suffice."""
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        problems = pool.map(lambda p: try_load_rgb(p)[1], paths, chunksize=64)
        return {p: e for p, e in zip(paths, problems) if e}


def report_bad_images(bad: dict[str, str], on_bad_image: str) -> None:
    """One warning listing every unreadable file (`skip`), or one error listing them (`error`)."""
    if on_bad_image not in ON_BAD_IMAGE:
        raise ValueError(f"data.on_bad_image must be one of {ON_BAD_IMAGE} (got {on_bad_image!r})")
    if not bad:
        return
    listing = "\n".join(f"  {p}: {e}" for p, e in sorted(bad.items()))
    if on_bad_image == "error":
        raise ValueError(f"{len(bad)} unreadable image(s) (data.on_bad_image=error; use skip to leave them out):\n"
                         f"{listing}")
    log.warning("%d unreadable image(s) skipped (listed in bad_images.csv of the run folder):\n%s", len(bad), listing)
