"""A local stand-in for Discord's webhook API, for the notifier's tests (loopback only).

It serves POST /api/webhooks/ID/TOKEN[?wait=true] (creates a message) and
PATCH /api/webhooks/ID/TOKEN/messages/MESSAGE_ID (edits one), checks the payload against
Discord's embed limits (400 "Invalid Form Body" when they are broken), and records every request
with its time. What it answers next is scripted: a queue of actions consumed one per request,
"ok" once the queue is empty:

    "ok"                    200 with the message (204 without ?wait=true)
    ("429", retry_after)    429 with the JSON body and headers Discord sends when rate limited
    "500"                   500 Internal Server Error
    "400"                   400 Invalid Form Body
    "404"                   404 Unknown Webhook
    "reset"                 the connection is reset without an answer
    ("slow", seconds, then) waits, then does the action `then`
    ("redirect", code)      a 3xx (301, 302, 307, 308) with Location: this server's /moved/...
                            (the same path under another prefix, token included): a client
                            that follows it shows up as a request to /moved/...
    "408", "425"            408 Request Timeout, 425 Too Early
    ("headers", {h: v}, then)  does `then`, its answer with these headers added or replaced
                            (hostile rate-limit values: "1e300", "nan", "-1")
    ("429body", body, {h: v})  429 with exactly this JSON body and these headers

A message counts as posted when Discord would have created it: the request was read and
answered "ok" (even if the client was gone by then)."""

import json
import socket
import struct
import threading
import time

from fake_http import ScriptedHttpFake

WEBHOOK_ID = "4242"
LIMITS = {"title": 256, "description": 4096, "field_name": 256, "field_value": 1024,
          "total": 6000, "fields": 25, "embeds": 10, "content": 2000}


def _limit_error(payload):
    """Why Discord would refuse payload, or None."""
    if not isinstance(payload, dict):
        return "body is not an object"
    if len(payload.get("content") or "") > LIMITS["content"]:
        return "content too long"
    embeds = payload.get("embeds") or []
    if len(embeds) > LIMITS["embeds"]:
        return "too many embeds"
    total = 0
    for e in embeds:
        for key in ("title", "description"):
            n = len(e.get(key) or "")
            if n > LIMITS[key]:
                return f"embed {key} longer than {LIMITS[key]}"
            total += n
        fields = e.get("fields") or []
        if len(fields) > LIMITS["fields"]:
            return "too many fields"
        for f in fields:
            if len(f.get("name") or "") > LIMITS["field_name"] or \
                    len(f.get("value") or "") > LIMITS["field_value"]:
                return "field too long"
            total += len(f.get("name") or "") + len(f.get("value") or "")
    if total > LIMITS["total"]:
        return "embeds longer than 6000 characters in total"
    if not embeds and not payload.get("content"):
        return "empty message"
    return None


class FakeDiscord(ScriptedHttpFake):
    def __init__(self, token="fakeTOKEN-9d8c7b6a5f4e3d2c1b0a"):
        self.token = token
        self._local = threading.local()  # per request thread: the headers of ("headers", ...)
        self.requests = []   # every request: dict(method, path, query, body, t, action, status)
        self.messages = {}   # message id -> its payload after the latest edit
        self.created = []    # (message id, payload as posted), in order
        self._next_id = 1300000000000000000
        # GET: only a client following a redirect would GET
        super().__init__(("POST", "PATCH", "GET"))
        self.url = f"http://127.0.0.1:{self.port}/api/webhooks/{WEBHOOK_ID}/{token}"

    def snapshot(self):
        with self.lock:
            return list(self.requests), list(self.created), dict(self.messages)

    # --- the server side ---------------------------------------------------------------------

    def _answer(self, h, status, body=None, headers=None):
        data = b"" if body is None else json.dumps(body).encode()
        h.send_response(status)
        for k, v in dict(headers or {}, **self._extra_headers()).items():
            h.send_header(k, v)
        if body is not None:
            h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        if data:
            h.wfile.write(data)
        h.wfile.flush()

    def _handle(self, h, method):
        path, _, query = h.path.partition("?")
        length = int(h.headers.get("Content-Length") or 0)
        raw = h.rfile.read(length) if length else b""
        with self.lock:
            action = self._next_action()
            rec = {"method": method, "path": path, "query": query, "t": time.monotonic(),
                   "action": action, "status": None, "raw": raw}
            self.requests.append(rec)
        self._local.headers = {}
        while isinstance(action, tuple) and action[0] in ("slow", "headers"):
            if action[0] == "slow":
                time.sleep(action[1])
            else:
                self._local.headers = dict(action[1])
            action = action[2]
        try:
            rec["status"] = self._act(h, method, path, query, raw, action)
        except (BrokenPipeError, ConnectionResetError):
            rec["status"] = "client gone"

    def _extra_headers(self):
        return getattr(self._local, "headers", None) or {}

    def _act(self, h, method, path, query, raw, action):
        base = f"/api/webhooks/{WEBHOOK_ID}/{self.token}"
        if isinstance(action, tuple) and action[0] == "redirect":
            where = f"http://127.0.0.1:{self.port}/moved{path}" + (f"?{query}" if query else "")
            self._answer(h, action[1], None, {"Location": where})
            return action[1]
        if action in ("408", "425"):
            self._answer(h, int(action), {"message": f"{action}: scripted", "code": 0})
            return int(action)
        if isinstance(action, tuple) and action[0] == "429body":
            self._answer(h, 429, action[1], action[2])
            return 429
        if action == "reset":
            h.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            h.connection.close()
            h.close_connection = True
            return "reset"
        if isinstance(action, tuple) and action[0] == "429":
            ra = action[1]
            self._answer(h, 429, {"message": "You are being rate limited.", "retry_after": ra,
                                  "global": False},
                         {"Retry-After": str(max(1, int(ra + 0.999))),
                          "X-RateLimit-Limit": "5", "X-RateLimit-Remaining": "0",
                          "X-RateLimit-Reset-After": str(ra), "X-RateLimit-Bucket": "fake"})
            return 429
        if action == "500":
            self._answer(h, 500, {"message": "500: Internal Server Error", "code": 0})
            return 500
        if action == "404" or not path.startswith(base):
            self._answer(h, 404, {"message": "Unknown Webhook", "code": 10015})
            return 404
        try:
            payload = json.loads(raw)
        except ValueError:
            payload = None
        why = _limit_error(payload)
        if action == "400" or why:
            self._answer(h, 400, {"message": "Invalid Form Body", "code": 50035,
                                  "errors": why or "scripted"})
            return 400
        with self.lock:
            if method == "POST" and path == base:
                mid = str(self._next_id)
                self._next_id += 1
                self.messages[mid] = payload
                self.created.append((mid, payload))
            elif method == "PATCH" and path.startswith(base + "/messages/"):
                mid = path[len(base + "/messages/"):]
                if mid not in self.messages:
                    mid = None
                else:
                    self.messages[mid] = payload
            else:
                mid = None
        if mid is None:
            self._answer(h, 404, {"message": "Unknown Message", "code": 10008})
            return 404
        if method == "POST" and "wait=true" not in query:
            self._answer(h, 204)
            return 204
        self._answer(h, 200, dict(payload, id=mid, webhook_id=WEBHOOK_ID, type=0),
                     {"X-RateLimit-Limit": "5", "X-RateLimit-Remaining": "4",
                      "X-RateLimit-Reset-After": "0.4"})
        return 200
