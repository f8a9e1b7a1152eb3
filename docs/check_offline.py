"""Check that a built HTML tree renders without network access: no page loads a script, a stylesheet,
an image or a font from another host.

Usage: ``python docs/check_offline.py [docs/_build/html]``. Exits with status 1 and lists every external
reference it finds (file and URL), 2 when the folder holds no HTML page, 0 otherwise. Links a reader
clicks (``<a href="https://...">``) are allowed: they are not needed to render the page.
"""

from __future__ import annotations

import re
import sys
from html.parser import HTMLParser
from pathlib import Path

#: A URL that needs the network: a scheme with "//" (http, https, ftp, ...) or protocol-relative "//host".
EXTERNAL = re.compile(r"^\s*(?:[a-zA-Z][a-zA-Z0-9+.-]*:)?//")
#: CSS ``url(...)`` and ``@import`` in inline styles.
CSS_URL = re.compile(r"""(?:url\(\s*['"]?|@import\s+['"])([^'")\s]+)""")


class _Resources(HTMLParser):
    """Collects the URLs a browser fetches to render a page."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[str, str]] = []
        self._in_style = False

    def _add(self, what, url):
        if url and EXTERNAL.match(url):
            self.found.append((what, url.strip()))

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "script":
            self._add("<script src>", a.get("src"))
        elif tag == "link":
            rel = (a.get("rel") or "").lower().split()
            # stylesheets, icons and preloads are fetched while rendering; "canonical" and the like are not
            if {"stylesheet", "icon", "preload", "modulepreload", "prefetch", "manifest"} & set(rel) or \
                    "shortcut" in rel:
                self._add(f"<link rel={' '.join(rel)}>", a.get("href"))
        elif tag in ("img", "iframe", "embed", "source", "audio", "video", "track", "input"):
            self._add(f"<{tag} src>", a.get("src"))
            for part in (a.get("srcset") or "").split(","):
                self._add(f"<{tag} srcset>", part.strip().split(" ")[0])
        elif tag == "object":
            self._add("<object data>", a.get("data"))
        elif tag == "style":
            self._in_style = True
        if a.get("style"):
            for url in CSS_URL.findall(a["style"]):
                self._add(f"<{tag} style>", url)

    def handle_endtag(self, tag):
        if tag == "style":
            self._in_style = False

    def handle_data(self, data):
        if self._in_style:
            for url in CSS_URL.findall(data):
                self._add("<style>", url)


def external_resources(html: str) -> list[tuple[str, str]]:
    """``(what, url)`` of every resource of ``html`` that would be fetched from another host."""
    parser = _Resources()
    parser.feed(html)
    parser.close()
    return parser.found


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    root = Path(argv[0] if argv else "docs/_build/html")
    pages = sorted(root.rglob("*.html"))
    if not pages:
        print(f"check_offline: no HTML page under {root}; build the docs first", file=sys.stderr)
        return 2
    problems = []
    for page in pages:
        for what, url in external_resources(page.read_text(encoding="utf-8", errors="replace")):
            problems.append(f"{page.relative_to(root)}: {what} {url}")
    if not (root / "_static" / "mathjax" / "tex-chtml.js").is_file():
        problems.append("_static/mathjax/tex-chtml.js is missing: MathJax is not bundled "
                        "(is sphinx-mathjax-offline installed and in conf.py's extensions?)")
    if problems:
        print(f"check_offline: {len(problems)} external resource(s) in {len(pages)} pages:", file=sys.stderr)
        for line in problems:
            print("  " + line, file=sys.stderr)
        return 1
    print(f"check_offline: {len(pages)} pages, no external script, stylesheet, image or font")
    return 0


if __name__ == "__main__":
    sys.exit(main())
