"""The README and the documentation site: short, built offline, every link resolved."""

from __future__ import annotations

import os
import re
import subprocess
import sys

from tests.conftest import REPO


def test_the_readme_is_short_and_its_links_resolve():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) <= 200
    assert readme.index("make run") < readme.index("make test") < 400  # the two commands come first
    targets = re.findall(r"\]\(((?!https?:)[^)#]+)", readme)
    assert targets and [t for t in targets if not (REPO / t).exists()] == []


def test_the_documentation_builds_strictly_and_fetches_nothing_from_outside(tmp_path):
    site = tmp_path / "site"
    built = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=REPO,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert built.returncode == 0, built.stderr[-3000:]
    pages = list(site.rglob("*.html"))
    assert len(pages) >= 12
    for page in pages:
        html = page.read_text(encoding="utf-8")
        # A page may link to the web; it must not load anything from it (scripts, styles, fonts, images).
        loaded = re.findall(r"<(?:script|img|iframe)[^>]+src=\"(https?://[^\"]+)", html)
        loaded += re.findall(r"<link[^>]+href=\"(https?://[^\"]+)\"[^>]*rel=\"(?:stylesheet|preload|preconnect)", html)
        loaded += re.findall(r"<link[^>]+rel=\"(?:stylesheet|preload|preconnect)\"[^>]*href=\"(https?://[^\"]+)", html)
        assert loaded == [], (page.name, loaded)
    index = (site / "index.html").read_text(encoding="utf-8")
    assert '<html lang="fr"' in index and "Poser une question" in index
