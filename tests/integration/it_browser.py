"""Headless Chromium for the integration tests, driven through chromedriver's W3C WebDriver HTTP
API with the standard library only: Debian's chromium and chromium-driver (deploy/local/
install-deps), nothing downloaded. Chromium runs with everything that would reach the internet
off (no background networking, updates, sync or QUIC) and a fresh profile."""

import base64
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

from it_fleet import fail, log, wait_until

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", "--window-size=1280,1400"]
ELEMENT = "element-6066-11e4-a52f-4a4a0fd1c7e8"  # the W3C key of an element reference


def available():
    """(True, "") when chromium and chromedriver are installed, else (False, why)."""
    for path in (CHROMIUM, CHROMEDRIVER):
        if not os.access(path, os.X_OK):
            return False, f"{path} missing (deploy/local/install-deps installs it)"
    return True, ""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Browser:
    """One chromedriver and one Chromium session; close() ends both and removes the profile."""

    def __init__(self, logdir):
        self.port = free_port()
        self.profile = tempfile.mkdtemp(prefix="jt-chromium-")
        self.log_path = os.path.join(logdir, "chromedriver.log")
        self.driver = subprocess.Popen(
            [CHROMEDRIVER, f"--port={self.port}", f"--log-path={self.log_path}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        self.base = f"http://127.0.0.1:{self.port}"
        self.session = None
        wait_until("chromedriver to answer", self._ready, 20)
        caps = {"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": CHROMIUM,
                                   "args": CHROMIUM_ARGS + [f"--user-data-dir={self.profile}"]}}}}
        self.session = self._call("POST", "/session", caps)["sessionId"]
        log(f"chromium session {self.session} (chromedriver on port {self.port})")

    def _ready(self):
        try:
            return self._call("GET", "/status", timeout_s=2)["ready"]
        except (OSError, urllib.error.URLError):
            return False

    def _call(self, method, path, body=None, timeout_s=60):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=timeout_s) as r:
                return json.loads(r.read().decode())["value"]
        except urllib.error.HTTPError as e:
            value = json.loads(e.read().decode() or "{}").get("value", {})
            raise WebDriverError(value.get("error", str(e.code)), value.get("message", ""))

    def _s(self, method, path, body=None):
        return self._call(method, f"/session/{self.session}{path}", body)

    def get(self, url):
        self._s("POST", "/url", {"url": url})

    def run(self, script, *args):
        """The value of a script (a function body: `return ...`) run in the page."""
        return self._s("POST", "/execute/sync", {"script": script, "args": list(args)})

    def find_all(self, css):
        found = self._s("POST", "/elements", {"using": "css selector", "value": css})
        return [e.get(ELEMENT) or e.get("ELEMENT") or next(iter(e.values())) for e in found]

    def click(self, css):
        found = self.find_all(css)
        if not found:
            fail(f"expected an element {css!r} to click, actual none")
        self._s("POST", f"/element/{found[0]}/click", {})

    def type_into(self, css, text):
        found = self.find_all(css)
        if not found:
            fail(f"expected an element {css!r} to type into, actual none")
        self._s("POST", f"/element/{found[0]}/clear", {})
        self._s("POST", f"/element/{found[0]}/value", {"text": text})

    def alert_text(self):
        """The text of an open alert, or None."""
        try:
            return self._s("GET", "/alert/text")
        except WebDriverError as e:
            if e.error == "no such alert":
                return None
            raise

    def screenshot(self, path):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(base64.b64decode(self._s("GET", "/screenshot")))
        log(f"screenshot: {path}")

    def close(self):
        try:
            if self.session:
                self._s("DELETE", "")
        except (OSError, WebDriverError, urllib.error.URLError):
            pass
        # chromedriver and the Chromium it started: its own process group, ended together.
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(self.driver.pid, sig)
            except ProcessLookupError:
                break
            try:
                self.driver.wait(5)
                break
            except subprocess.TimeoutExpired:
                continue
        shutil.rmtree(self.profile, ignore_errors=True)


class WebDriverError(Exception):
    def __init__(self, error, message):
        super().__init__(f"{error}: {message[:500]}")
        self.error = error
