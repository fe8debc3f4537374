"""What the local fakes of outside HTTP services share (fake_discord.py, fake_app_api.py): a
threaded HTTP/1.1 server on 127.0.0.1 (an ephemeral port, loopback only) that hands every
request to the fake's _handle(handler, method), and the script of what to answer next (a queue
of actions consumed one per request, "ok" once it is empty)."""

import threading
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class ScriptedHttpFake:
    def __init__(self, methods):
        """Starts serving methods (e.g. ("POST", "GET")); a subclass sets up its own state
        first, then calls this."""
        self.lock = threading.Lock()
        self.script = deque()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

        for method in methods:
            setattr(Handler, "do_" + method, lambda h, m=method: fake._handle(h, m))
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def _handle(self, h, method):
        raise NotImplementedError

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    def push(self, *actions):
        with self.lock:
            self.script.extend(actions)

    def clear_script(self):
        with self.lock:
            self.script.clear()

    def _next_action(self):
        """The next scripted action; call with self.lock held."""
        return self.script.popleft() if self.script else "ok"
