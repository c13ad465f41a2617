"""The installed Chromium, driven over the DevTools protocol (choreographer, which kaleido brings): an HTML page
becomes a PNG of a fixed size plus the pixel box of every text and of every element a renderer asks for. One
headless browser per process, opened on first use and kept open, on its own event-loop thread."""

from __future__ import annotations

import asyncio
import atexit
import base64
import json
import os
import shutil
import tempfile
import threading
from pathlib import Path

from renderers.errors import SetupError

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
PAGE_TIMEOUT_S = 120.0  # a page lays out in well under a second; a browser silent this long has hung

# Every non-blank text node's box (a Range hugs the glyphs, not the cell) and its computed font size; then the boxes
# of the elements matching each selector the caller names, in document order.
MEASURE_JS = """(() => {
  const box = r => [r.left, r.top, r.right, r.bottom];
  const texts = [];
  const walk = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walk.nextNode(); node; node = walk.nextNode()) {
    if (!node.textContent.trim()) continue;
    const range = document.createRange(); range.selectNodeContents(node);
    const r = range.getBoundingClientRect();
    if (r.width === 0 || r.height === 0) continue;
    texts.push([node.textContent.trim(), box(r), parseFloat(getComputedStyle(node.parentElement).fontSize)]);
  }
  const picked = {};
  for (const selector of SELECTORS) {
    picked[selector] = [...document.querySelectorAll(selector)].map(e => box(e.getBoundingClientRect()));
  }
  return JSON.stringify({texts, picked});
})()"""


def check_browser(hint: str) -> None:
    """Fail fast with `hint` when no browser is there: a DevTools client would otherwise wait for one forever."""
    explicit = os.environ.get("BROWSER_PATH")
    if explicit and not os.access(explicit, os.X_OK):
        raise SetupError(f"BROWSER_PATH={explicit!r} is not an executable browser. {hint}")
    if not explicit and not any(shutil.which(name) for name in BROWSERS):
        raise SetupError(f"no Chromium/Chrome on PATH. {hint}")


class _Chromium:
    """One headless browser and one tab. Pages are loaded from a file (so local fonts and styles resolve), sized by
    device-metric emulation, measured in JavaScript after the fonts are ready, then captured."""

    def __init__(self) -> None:
        import choreographer

        self._loop = asyncio.new_event_loop()
        threading.Thread(target=self._loop.run_forever, daemon=True, name="chromium-pages").start()
        self._dir = Path(tempfile.mkdtemp(prefix="chartsynth-pages-"))
        self._browser = choreographer.Browser(headless=True)
        self._call(self._browser.open())
        self._tab = self._call(self._browser.create_tab("about:blank"))
        self._call(self._tab.send_command("Page.enable"))
        atexit.register(self.close)

    def _call(self, coroutine):
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(PAGE_TIMEOUT_S)

    async def _shoot(self, html: str, width: int, height: int, selectors: list[str]) -> tuple[bytes, dict]:
        page = self._dir / "page.html"
        page.write_text(html, encoding="utf-8")
        await self._tab.send_command("Emulation.setDeviceMetricsOverride", params={
            "width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})
        loaded = self._tab.subscribe_once("Page.loadEventFired")
        await self._tab.send_command("Page.navigate", params={"url": page.as_uri()})
        await loaded
        await self._tab.send_command("Runtime.evaluate", params={"expression": "document.fonts.ready",
                                                                 "awaitPromise": True})
        script = MEASURE_JS.replace("SELECTORS", json.dumps(selectors))
        measured = await self._tab.send_command("Runtime.evaluate", params={"expression": script,
                                                                            "returnByValue": True})
        shot = await self._tab.send_command("Page.captureScreenshot", params={
            "format": "png", "clip": {"x": 0, "y": 0, "width": width, "height": height, "scale": 1}})
        return base64.b64decode(shot["result"]["data"]), json.loads(measured["result"]["result"]["value"])

    def shoot(self, html: str, width: int, height: int, selectors: list[str]) -> tuple[bytes, dict]:
        return self._call(self._shoot(html, width, height, selectors))

    def close(self) -> None:
        try:
            self._call(self._browser.close())
        except Exception:  # noqa: BLE001 - at exit, a browser already gone is fine
            pass
        shutil.rmtree(self._dir, ignore_errors=True)


_chromium: _Chromium | None = None
_LOCK = threading.Lock()


def shoot(html: str, width: int, height: int, selectors: list[str], hint: str) -> tuple[bytes, dict]:
    """`html` drawn at width × height CSS pixels (one CSS pixel per image pixel): PNG bytes, and {"texts": [[text,
    box, font px]…], "picked": {selector: [box…]}} with boxes as (x0, y0, x1, y1), origin top-left. A missing or
    hung browser stops the run with `hint` (finished shards are kept; rerunning resumes)."""
    global _chromium
    with _LOCK:  # one tab, one page at a time (a worker's threads share the process's browser)
        try:
            if _chromium is None:
                check_browser(hint)
                _chromium = _Chromium()
            return _chromium.shoot(html, width, height, selectors)
        except TimeoutError:
            _chromium = None  # the hung one ends with the process; the next page opens a new browser
            raise SetupError(f"Chromium drew no page in {PAGE_TIMEOUT_S:g} s (a hung browser); finished shards are "
                             "kept, rerun the same command to resume") from None
        except SetupError:
            raise
        except Exception as error:
            raise SetupError(f"{hint}; Chromium said: {error}") from error
