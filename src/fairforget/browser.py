"""Open a local HTML page (the Snakemake report) in a real headless Chromium and look at it as a reader would:
the console errors and uncaught exceptions of the page, the result of JavaScript run in it, a screenshot.

Talks the Chrome DevTools Protocol over a pipe (`--remote-debugging-pipe`: JSON messages ended by a NUL byte on
file descriptors 3 and 4 of the browser), so it needs no Python package beyond the standard library, only a
Chromium binary (Debian: `apt-get install chromium`). `python -m fairforget.browser PAGE --screenshot OUT.png`
saves a screenshot of the page's first screen.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import queue
import shutil
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
# Inherited descriptors of the browser for the protocol: it reads commands on 3 and writes replies on 4.
COMMAND_FD, REPLY_FD = 3, 4


def find_chromium() -> str | None:
    """The first Chromium binary on PATH (the environment variable FAIRFORGET_CHROMIUM overrides); None if none."""
    override = os.environ.get("FAIRFORGET_CHROMIUM")
    if override:
        return shutil.which(override)
    return next((path for path in map(shutil.which, CHROMIUM_NAMES) if path), None)


class BrowserError(RuntimeError):
    """The browser did not start, died, or answered a command with an error."""


@dataclass
class PageProblems:
    """What went wrong while a page was open: console errors and uncaught exceptions, as text."""

    console_errors: list[str] = field(default_factory=list)
    exceptions: list[str] = field(default_factory=list)

    @property
    def all(self) -> list[str]:
        return [f"console: {m}" for m in self.console_errors] + [f"exception: {m}" for m in self.exceptions]


class HeadlessChromium:
    """One headless Chromium with one page. Use as a context manager; `open(url)` loads a page and waits for its
    load event, `evaluate(js)` returns a JavaScript expression's value, `problems` collects the page's errors."""

    def __init__(self, binary: str | None = None, width: int = 1280, height: int = 900, timeout: float = 60.0):
        found = binary or find_chromium()
        if found is None:
            tried = ", ".join(CHROMIUM_NAMES)
            raise BrowserError(f"no Chromium found (tried {tried}; Debian: apt-get install chromium)")
        self.binary, self.width, self.height, self.timeout = found, width, height, timeout
        self.problems = PageProblems()
        self._next_id = 0
        self._messages: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._events: list[dict[str, Any]] = []
        self._session: str | None = None
        self._profile = tempfile.TemporaryDirectory(prefix="fairforget-chromium-")

    def __enter__(self) -> HeadlessChromium:
        command_read, self._command_write = os.pipe()
        self._reply_read, reply_write = os.pipe()

        def wire_descriptors() -> None:  # in the child, before exec: the pipe ends become fds 3 and 4
            os.dup2(command_read, COMMAND_FD)
            os.dup2(reply_write, REPLY_FD)

        args = [
            self.binary,
            "--headless",
            "--remote-debugging-pipe",
            f"--user-data-dir={self._profile.name}",
            f"--window-size={self.width},{self.height}",
            "--hide-scrollbars",
            "--disable-gpu",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-extensions",
            "--disable-background-networking",
            "--mute-audio",
        ]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            args.append("--no-sandbox")  # Chromium refuses to run as root with its sandbox (CI runs as root)
        self._process = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            preexec_fn=wire_descriptors,
            pass_fds=(COMMAND_FD, REPLY_FD),
        )
        os.close(command_read)
        os.close(reply_write)
        self._stderr: list[str] = []
        threading.Thread(target=self._read_replies, daemon=True).start()
        threading.Thread(target=self._read_stderr, daemon=True).start()
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        self._session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Log"):
            self.send(f"{domain}.enable")
        # the viewport itself (--window-size sets the window, which headless Chromium may size otherwise)
        viewport = {"width": self.width, "height": self.height, "deviceScaleFactor": 1, "mobile": False}
        self.send("Emulation.setDeviceMetricsOverride", viewport)
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self.send("Browser.close", session=False, wait=False)
            self._process.wait(timeout=10)
        except (BrowserError, OSError, subprocess.TimeoutExpired):
            self._process.kill()
            self._process.wait()
        finally:
            os.close(self._command_write)
            self._profile.cleanup()

    # ------------------------------------------------------------------------------------------- the protocol

    def _read_stderr(self) -> None:
        assert self._process.stderr is not None
        for line in iter(self._process.stderr.readline, b""):
            self._stderr.append(line.decode(errors="replace").rstrip())

    def _read_replies(self) -> None:
        buffer = b""
        with os.fdopen(self._reply_read, "rb", buffering=0) as replies:
            while chunk := replies.read(65536):
                buffer += chunk
                *complete, buffer = buffer.split(b"\0")
                for message in complete:
                    self._messages.put(json.loads(message))
        self._messages.put(None)  # the browser closed its end

    def send(self, method: str, params: dict[str, Any] | None = None, session: bool = True, wait: bool = True) -> Any:
        """Send one command (to the page's session unless `session` is False) and return its result."""
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session and self._session is not None:
            message["sessionId"] = self._session
        os.write(self._command_write, json.dumps(message).encode() + b"\0")
        if not wait:
            return None
        reply = self._wait_for(lambda m: m.get("id") == message["id"], f"the reply to {method}")
        if "error" in reply:
            raise BrowserError(f"{method}: {reply['error'].get('message', reply['error'])}")
        return reply.get("result", {})

    def _wait_for(self, wanted: Any, what: str, timeout: float | None = None) -> dict[str, Any]:
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise BrowserError(f"timed out waiting for {what}")
            try:
                message = self._messages.get(timeout=left)
            except queue.Empty:
                raise BrowserError(f"timed out waiting for {what}") from None
            if message is None:
                raise BrowserError(f"the browser exited while waiting for {what}: {' | '.join(self._stderr[-5:])}")
            if "method" in message:
                self._note_event(message)
            if wanted(message):
                return message

    def _note_event(self, event: dict[str, Any]) -> None:
        self._events.append(event)
        params = event.get("params", {})
        if event["method"] == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            text = " ".join(str(a.get("value", a.get("description", ""))) for a in params.get("args", []))
            self.problems.console_errors.append(text)
        elif event["method"] == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
            entry = params["entry"]
            self.problems.console_errors.append(f"{entry.get('text', '')} ({entry.get('url', '')})")
        elif event["method"] == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            exception = details.get("exception", {})
            self.problems.exceptions.append(exception.get("description") or details.get("text", "exception"))

    # ---------------------------------------------------------------------------------------------- the page

    def open(self, url: str, settle: float = 1.0) -> None:
        """Load `url` and wait for its load event, then `settle` seconds for scripts that render after it."""
        self.send("Page.navigate", {"url": url})
        self._wait_for(lambda m: m.get("method") == "Page.loadEventFired", f"{url} to load")
        self.pause(settle)

    def pause(self, seconds: float) -> None:
        """Let the page run for `seconds`, still collecting its console errors."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            try:
                message = self._messages.get(timeout=left)
            except queue.Empty:
                break
            if message is None:
                raise BrowserError(f"the browser exited: {' | '.join(self._stderr[-5:])}")
            if "method" in message:
                self._note_event(message)

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page (promises awaited); an exception raises BrowserError."""
        result = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True, "awaitPromise": True})
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            raise BrowserError(details.get("exception", {}).get("description") or details.get("text", "exception"))
        return result["result"].get("value")

    def screenshot(self, out: str | Path) -> Path:
        """The visible part of the page as a PNG."""
        data = self.send("Page.captureScreenshot", {"format": "png"})["data"]
        out = Path(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(base64.b64decode(data))
        return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("page", type=Path, help="the HTML file to open")
    parser.add_argument("--screenshot", type=Path, help="write a PNG of the page's first screen here")
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=900)
    args = parser.parse_args(argv)
    with HeadlessChromium(width=args.width, height=args.height) as browser:
        browser.open(args.page.resolve().as_uri(), settle=2.0)
        if args.screenshot:
            print(f"wrote {browser.screenshot(args.screenshot)}")
        for problem in browser.problems.all:
            print(problem)
    return 1 if browser.problems.all else 0


if __name__ == "__main__":
    raise SystemExit(main())
