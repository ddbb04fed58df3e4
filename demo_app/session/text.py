"""User-supplied text on the page: always shown as text, never as markup, and never at any length.

File names, config values and labels come from visitors. Error sentences repeat them, and both Panel's Alert
(Markdown) and its notifications (HTML) render markup, so a file called ``<img src=x onerror=...>`` ran a script in
the page. The page shows messages in HTML panes fed only through :func:`as_html`, and labels in text-only widgets.
"""

from __future__ import annotations

import html

from nstcore.errors import capped  # the one capper, shared with the engine's sentences

# One sentence with a capped file name fits in this; anything longer is cut with an ellipsis.
MAX_MESSAGE = 300
# Comparison labels are drawn under 128-256 px cells in two lines; 80 characters is already more than fits.
MAX_LABEL = 80
# File names are shown on the page and repeated in sentences.
MAX_NAME = 60

__all__ = ["MAX_LABEL", "MAX_MESSAGE", "MAX_NAME", "as_html", "as_notification", "capped", "file_label"]


def as_html(text: object, limit: int = MAX_MESSAGE) -> str:
    """Escaped, capped text for an HTML sink (an HTML pane, a notification): it displays literally."""
    return html.escape(capped(text, limit), quote=True)


def as_notification(text: object, limit: int = MAX_MESSAGE) -> str:
    """Capped text for a toast (Panel's notyf): escaped for its HTML, but not its quotes, which element content does
    not need: notyf also hands the same string to screen readers as text, which read "page&#x27;s" for "page's"."""
    return html.escape(capped(text, limit), quote=False)


def file_label(name: object, fallback: str) -> str:
    """A file name as the page and its sentences call it (plain text, capped); ``fallback`` when empty."""
    label = capped(name or "", MAX_NAME)
    return label or fallback
