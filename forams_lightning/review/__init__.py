"""The expert's live review of an identified sample (`LiveReview`: every verdict a reference at once, the rest
identified again; it saves its own changes through the keeper `open_review` gives it), its saving
(`ReviewSaver`, `verdicts.csv`), the audit of a library's labels one decision at a time (`AuditReview`), and the
local web pages over both (`review.web`). The `review` command (`python -m forams_lightning.review`) is a thin
adapter over these.

    from forams_lightning.review import open_review
    with open_review("runs/sample1") as review:
        review.decide(review.order()[0], "Globigerina bulloides", "A. Expert")
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from forams_lightning.exports import lazy_exports

_API = {
    "audit_session": ["AuditReview"],
    "opening": ["open_review"],
    "saving": ["ReviewSaver", "write_census"],
    "session": ["Change", "Keeper", "LiveReview"],
    "verdicts": ["Verdict", "read_verdicts", "write_verdicts"],
    "web": ["start_audit_server", "start_server"],
}
__all__ = ["AuditReview", "Change", "Keeper", "LiveReview", "ReviewSaver", "Verdict", "open_review", "read_verdicts",
           "start_audit_server", "start_server", "write_census", "write_verdicts"]
__getattr__, __dir__ = lazy_exports(__name__, _API)

if TYPE_CHECKING:
    from forams_lightning.review.audit_session import AuditReview
    from forams_lightning.review.opening import open_review
    from forams_lightning.review.saving import ReviewSaver, write_census
    from forams_lightning.review.session import Change, Keeper, LiveReview
    from forams_lightning.review.verdicts import Verdict, read_verdicts, write_verdicts
    from forams_lightning.review.web import start_audit_server, start_server
