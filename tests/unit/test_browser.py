"""fairforget.browser: a real headless Chromium reports a page's console errors and exceptions, runs JavaScript
and takes screenshots (skipped where no Chromium is installed)."""

from __future__ import annotations

import pytest
from PIL import Image

from fairforget.browser import BrowserError, HeadlessChromium, find_chromium

pytestmark = pytest.mark.skipif(
    find_chromium() is None,
    reason="no Chromium on PATH (chromium, chromium-browser, google-chrome): apt-get install chromium",
)

PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>t</title></head><body>
<p id="text">ready</p>
<script>
console.log("fine");
console.error("broken figure");
setTimeout(() => { throw new Error("late failure"); }, 50);
</script></body></html>"""


def test_console_errors_and_exceptions_are_reported(tmp_path):
    page = tmp_path / "page.html"
    page.write_text(PAGE)
    with HeadlessChromium(width=400, height=300) as browser:
        browser.open(page.as_uri(), settle=0.5)
        assert browser.evaluate("document.getElementById('text').innerText") == "ready"
        with pytest.raises(BrowserError, match="nope"):
            browser.evaluate("(() => { throw new Error('nope'); })()")
        shot = browser.screenshot(tmp_path / "shot.png")
    assert browser.problems.console_errors == ["broken figure"]
    assert len(browser.problems.exceptions) == 1 and "late failure" in browser.problems.exceptions[0]
    with Image.open(shot) as image:
        assert image.size == (400, 300)


def test_a_clean_page_has_no_problems(tmp_path):
    page = tmp_path / "clean.html"
    page.write_text("<!doctype html><html><head><meta charset='utf-8'><title>t</title></head><body>ok</body></html>")
    with HeadlessChromium(width=400, height=300) as browser:
        browser.open(page.as_uri(), settle=0.2)
    assert browser.problems.all == []
