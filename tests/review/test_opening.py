"""Opening a review: a run folder without kept embeddings is embedded once, and opening imports no backbone library."""

import numpy as np

from forams_lightning.identify.sample_embeddings import ARRAY, META, load_sample_embeddings


def test_a_run_folder_without_kept_embeddings_is_embedded_once(identified):
    folder, run = identified
    from forams_lightning.review.opening import open_review

    kept = load_sample_embeddings(run).embeddings
    (run / ARRAY).unlink()
    (run / META).unlink()
    (run / ".hydra").mkdir()  # what a run folder of an older version keeps: its saved config
    (run / ".hydra" / "config.yaml").write_text(f"library: {folder}\nimages: {folder.parent / 'sample'}\n")
    review = open_review(run)
    review.close()
    again = load_sample_embeddings(run)
    np.testing.assert_allclose(again.embeddings, kept, atol=1e-5)
    assert again.samples is not None and len(review.order()) == 13


def test_opening_a_review_imports_no_backbone_library(identified):
    """The review starts in seconds: kept embeddings need no network, so timm, torchvision and scikit-learn (seconds
    of import) stay unimported until a file has to be embedded."""
    import subprocess
    import sys

    folder, run = identified
    code = ("import sys\nfrom forams_lightning.review.opening import open_review\n"
            f"review = open_review({str(run)!r}, {str(folder)!r})\nreview.close()\n"
            "print(sorted(m for m in ('timm', 'torchvision', 'sklearn') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"
