"""A local stand-in for the app's notification push endpoint (the original's socket push), for
the worker's app push tests (loopback only), modelled on fake_discord.py.

It serves POST /api/notifications/socket and records every request (its X-API-Key, its JSON
body, when it came, what was answered). What it answers next is scripted: a queue of actions
consumed one per request, "ok" once the queue is empty:

    "ok"                  200 {"success": true}
    "500"                 500 Internal Server Error
    ("429", seconds)      429 with Retry-After: seconds
    ("status", code, body)  that status with this text body (a 401 quoting the key, say)
    ("redirect", code)    a 3xx with Location: this server's /moved/... (a client that follows
                          it shows up as a request to /moved/...)
    ("hold", seconds)     answers "ok" only after seconds: a batch in flight, for killing the
                          worker that sent it

A batch counts as acknowledged when the "ok" answer was written to a client still there."""

import json
import time

from fake_http import ScriptedHttpFake

PATH = "/api/notifications/socket"


class FakeAppApi(ScriptedHttpFake):
    def __init__(self):
        self.requests = []  # dict(t, path, key, body (parsed or None), action, status, acked)
        # GET: only a client following a redirect would GET
        super().__init__(("POST", "GET"))
        self.url = f"http://127.0.0.1:{self.port}{PATH}"

    def snapshot(self):
        with self.lock:
            return [dict(r) for r in self.requests]

    def acked(self):
        """The bodies of the acknowledged requests, in the order they were answered."""
        return [r["body"] for r in sorted(self.snapshot(), key=lambda r: r.get("t_answer") or 0)
                if r["acked"]]

    def _answer(self, h, status, body, headers=None):
        data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        h.send_response(status)
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        h.wfile.write(data)
        h.wfile.flush()

    def _handle(self, h, method):
        length = int(h.headers.get("Content-Length") or 0)
        raw = h.rfile.read(length) if length else b""
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        with self.lock:
            action = self._next_action()
            rec = {"t": time.monotonic(), "method": method, "path": h.path,
                   "key": h.headers.get("X-API-Key"), "content_type": h.headers.get("Content-Type"),
                   "idempotency_key": h.headers.get("Idempotency-Key"),
                   "body": body, "action": action, "status": None, "acked": False}
            self.requests.append(rec)
        try:
            self._act(h, method, rec, action)
        except (BrokenPipeError, ConnectionResetError):
            rec["status"] = "client gone"

    def _act(self, h, method, rec, action):
        if isinstance(action, tuple) and action[0] == "hold":
            time.sleep(action[1])
            action = "ok"
        if isinstance(action, tuple) and action[0] == "redirect":
            self._answer(h, action[1], {"moved": True},
                         {"Location": f"http://127.0.0.1:{self.port}/moved{h.path}"})
            rec["status"] = action[1]
            return
        if isinstance(action, tuple) and action[0] == "status":
            self._answer(h, action[1], action[2])
            rec["status"] = action[1]
            return
        if isinstance(action, tuple) and action[0] == "429":
            self._answer(h, 429, {"error": "rate limited"}, {"Retry-After": str(action[1])})
            rec["status"] = 429
            return
        if action == "500":
            self._answer(h, 500, {"error": "Internal Server Error"})
            rec["status"] = 500
            return
        if method != "POST" or h.path != PATH:
            self._answer(h, 404, {"error": "not found"})
            rec["status"] = 404
            return
        self._answer(h, 200, {"success": True})
        rec["status"] = 200
        rec["t_answer"] = time.monotonic()
        rec["acked"] = True
