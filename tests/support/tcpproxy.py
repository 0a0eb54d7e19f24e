"""A TCP proxy for tests that can cut the network and restore it.

    proxy = TcpProxy("127.0.0.1", 5672).start()   # listens on proxy.port
    proxy.cut()       # resets every open connection and refuses new ones (the cable is pulled)
    proxy.restore()   # accepts and forwards again
    proxy.stop()

Threads, not asyncio, so it runs beside anything (pytest, eventlet-free test code). A cut closes
both sides with RST (SO_LINGER 0): the peers see the connection die at once, as after a network
failure noticed by a keepalive or heartbeat, rather than a polite FIN.
"""
from __future__ import annotations

import contextlib
import socket
import struct
import threading


class TcpProxy:
    def __init__(self, target_host: str, target_port: int, *, listen_host: str = "127.0.0.1",
                 listen_port: int = 0):
        self.target = (target_host, target_port)
        self._server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._server.bind((listen_host, listen_port))
        self.host, self.port = self._server.getsockname()
        self._lock = threading.Lock()
        self._pairs: set[tuple[socket.socket, socket.socket]] = set()
        self._open = True
        self._running = False
        self.accepted = 0   # connections forwarded since start
        self.refused = 0    # connections turned away while cut
        self.cuts = 0       # connections reset by cut()

    def start(self) -> "TcpProxy":
        self._server.listen(64)
        self._running = True
        threading.Thread(target=self._accept_loop, name=f"tcpproxy-{self.port}", daemon=True).start()
        return self

    @property
    def is_cut(self) -> bool:
        return not self._open

    def cut(self) -> int:
        """Reset every forwarded connection and refuse new ones; returns how many were reset."""
        with self._lock:
            self._open = False
            pairs, self._pairs = list(self._pairs), set()
        for pair in pairs:
            for sock in pair:
                _reset(sock)
        self.cuts += len(pairs)
        return len(pairs)

    def restore(self) -> None:
        with self._lock:
            self._open = True

    def connections(self) -> int:
        with self._lock:
            return len(self._pairs)

    def stop(self) -> None:
        self._running = False
        self.cut()
        with contextlib.suppress(OSError):
            self._server.close()

    def _accept_loop(self) -> None:
        while self._running:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            with self._lock:
                is_open = self._open
            if not is_open:
                self.refused += 1
                _reset(client)
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
                upstream.settimeout(None)
            except OSError:
                _reset(client)
                continue
            pair = (client, upstream)
            with self._lock:
                if not self._open:  # cut while we were connecting
                    _reset(client)
                    _reset(upstream)
                    continue
                self._pairs.add(pair)
            self.accepted += 1
            threading.Thread(target=self._pump, args=(client, upstream, pair), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, pair), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, pair) -> None:
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                sink.sendall(data)
        except OSError:
            pass
        with self._lock:
            known = pair in self._pairs
            self._pairs.discard(pair)
        if known:  # a normal close by one side: pass it on
            for sock in pair:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                with contextlib.suppress(OSError):
                    sock.close()


def _reset(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RD)  # wakes the pump blocked in recv() without sending a FIN
    with contextlib.suppress(OSError):
        sock.close()  # linger 0: RST
