"""Evidence kept with a transition: the inclusive-text check of an approved vacancy text."""

import hashlib
from typing import Any

from procedures.events import ApproveTextData
from procedures.textcheck import check_text


def text_evidence(data: Any) -> dict[str, Any] | None:
    """The text check's result and word-list version, when a text came with the approval."""
    if not isinstance(data, ApproveTextData) or data.text is None:
        return None
    result = check_text(data.text)
    return {
        "text_sha256": hashlib.sha256(data.text.encode("utf-8")).hexdigest(),
        "wordlist_version": result.wordlist_version,
        "exclusionary": len(result.findings),
        "result": result.to_dict(),
    }
