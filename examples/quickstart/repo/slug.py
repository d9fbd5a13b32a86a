"""Turn titles into URL slugs."""

import re


def slugify(title: str) -> str:
    """Lower-case `title`, keep letters and digits, and join the words with single hyphens."""
    words = re.split(r"\s+", title.strip().lower())
    return "-".join(words)
