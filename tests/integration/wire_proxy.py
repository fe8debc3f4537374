"""A TCP proxy between a program and the MongoDB server that records the write commands the
program sends: each client-to-server OP_MSG (opcode 2013) is decoded with the bson module and,
for insert/update/delete/findAndModify/createIndexes, its command name, database and
writeConcern are kept. Bytes pass through unchanged both ways. OP_COMPRESSED messages are
counted (a program asking for compression would hide its commands) so a test can fail on them.

    proxy = WireProxy("127.0.0.1", 27017); proxy.start()
    ... run the program with --mongo-uri mongodb://127.0.0.1:{proxy.port} ...
    proxy.writes   # [(name, db, writeConcern dict or None), ...]
    proxy.stop()
"""

import socket
import struct
import threading

import bson

WRITE_COMMANDS = ("insert", "update", "delete", "findAndModify", "createIndexes")
OP_MSG = 2013
OP_COMPRESSED = 2012


class WireProxy:
    def __init__(self, host, port):
        self.upstream = (host, port)
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.port = self.listener.getsockname()[1]
        self.writes = []
        self.compressed = 0
        self.lock = threading.Lock()
        self.stopping = False
        self.socks = []

    def start(self):
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def stop(self):
        self.stopping = True
        for s in [self.listener, *self.socks]:
            try:
                s.close()
            except OSError:
                pass

    def _accept(self):
        while not self.stopping:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(self.upstream, timeout=10)
                server.settimeout(None)
            except OSError:
                client.close()
                continue
            self.socks += [client, server]
            threading.Thread(target=self._pump, args=(client, server, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, False), daemon=True).start()

    def _pump(self, src, dst, inspect):
        buf = b""
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
                if inspect:
                    buf += data
                    while len(buf) >= 16:
                        length = struct.unpack_from("<i", buf)[0]
                        if len(buf) < length:
                            break
                        self._record(buf[:length])
                        buf = buf[length:]
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def _record(self, msg):
        opcode = struct.unpack_from("<i", msg, 12)[0]
        if opcode == OP_COMPRESSED:
            with self.lock:
                self.compressed += 1
            return
        if opcode != OP_MSG:
            return
        pos = 20  # header (16) + flagBits (4)
        while pos < len(msg):
            kind = msg[pos]
            pos += 1
            size = struct.unpack_from("<i", msg, pos)[0]
            if kind == 0:
                body = bson.decode(msg[pos:pos + size])
                name = next(iter(body), "")
                if name in WRITE_COMMANDS:
                    with self.lock:
                        self.writes.append((name, body.get("$db"), body.get("writeConcern")))
                return
            pos += size  # a kind-1 document sequence: its size covers itself
