"""A loopback TCP proxy in front of the real Redis test server that SIGKILLs a crawler process
at a chosen moment of its conversation with Redis: right after Redis has answered a command,
before the crawler reads the answer. A worker killed there has done, in Redis, exactly what
that command did, and nothing after it."""

from __future__ import annotations

import os
import signal
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from urllib.parse import urlsplit

# Decides, from a command as sent and Redis' answer to it, whether this is the moment.
Trigger = Callable[[bytes, bytes], bool]


class KillingRedisProxy:
    def __init__(self, redis_url: str, trigger: Trigger) -> None:
        parts = urlsplit(redis_url)
        self.upstream = (parts.hostname or "127.0.0.1", parts.port or 6379)
        self.database = parts.path or "/0"
        self.trigger = trigger
        self.victim: int | None = None  # the pid to kill
        self.killed = threading.Event()
        self.lock = threading.Lock()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.sockets: list[socket.socket] = [self.listener]

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.listener.getsockname()[1]}{self.database}"

    def serve(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return  # closed
            server = socket.create_connection(self.upstream)
            with self.lock:
                self.sockets += [client, server]
            sent: list[bytes] = [b""]  # the last command the crawler sent on this connection
            for pump in (self._commands, self._answers):
                threading.Thread(target=pump, args=(client, server, sent), daemon=True).start()

    def _commands(self, client: socket.socket, server: socket.socket, sent: list[bytes]) -> None:
        with suppress(OSError):
            while command := client.recv(65536):
                sent[0] = command
                server.sendall(command)

    def _answers(self, client: socket.socket, server: socket.socket, sent: list[bytes]) -> None:
        with suppress(OSError):
            while answer := server.recv(65536):
                with self.lock:
                    if self.killed.is_set():
                        return
                    if self.trigger(sent[0], answer):
                        assert self.victim is not None, "no pid to kill"
                        os.kill(self.victim, signal.SIGKILL)
                        self.killed.set()
                        return  # the answer never reaches the crawler
                client.sendall(answer)

    def close(self) -> None:
        with self.lock:
            for sock in self.sockets:
                with suppress(OSError):
                    sock.close()


@contextmanager
def killing_redis_proxy(redis_url: str, trigger: Trigger) -> Iterator[KillingRedisProxy]:
    proxy = KillingRedisProxy(redis_url, trigger)
    thread = threading.Thread(target=proxy.serve, name="redis-proxy", daemon=True)
    thread.start()
    try:
        yield proxy
    finally:
        proxy.close()
        thread.join(timeout=10)
