"""A loopback TCP proxy in front of the real Redis test server that strikes at a chosen moment
of a crawler's conversation with Redis: right after Redis has answered a command, before the
crawler reads the answer. It either SIGKILLs the crawler (a worker killed there has done, in
Redis, exactly what that command did, and nothing after it) or cuts that connection (the
command was carried out, the crawler hears only that the connection is gone, as when Redis
shuts down or a network drops between a command and its answer)."""

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


class StrikingRedisProxy:
    def __init__(self, redis_url: str, trigger: Trigger, *, cut: bool) -> None:
        parts = urlsplit(redis_url)
        self.upstream = (parts.hostname or "127.0.0.1", parts.port or 6379)
        self.database = parts.path or "/0"
        self.trigger = trigger
        self.cut = cut  # cut the connection instead of killing the victim
        self.victim: int | None = None  # the pid to kill
        self.struck = threading.Event()
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
            try:
                server = socket.create_connection(self.upstream)
            except OSError:  # Redis is down: so is this connection, as it would be without us
                client.close()
                continue
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
                    if self.struck.is_set() and not self.cut:
                        return  # the victim is dead
                    if not self.struck.is_set() and self.trigger(sent[0], answer):
                        self.struck.set()
                        self._strike(client, server)
                        return  # the answer never reaches the crawler
                client.sendall(answer)

    def _strike(self, client: socket.socket, server: socket.socket) -> None:
        if self.cut:  # shutdown, not just close: the other pump is in recv()
            for end in (client, server):
                end.shutdown(socket.SHUT_RDWR)
            return
        assert self.victim is not None, "no pid to kill"
        os.kill(self.victim, signal.SIGKILL)

    def close(self) -> None:
        with self.lock:
            for sock in self.sockets:
                with suppress(OSError):
                    sock.close()


@contextmanager
def striking_redis_proxy(
    redis_url: str, trigger: Trigger, *, cut: bool = False
) -> Iterator[StrikingRedisProxy]:
    proxy = StrikingRedisProxy(redis_url, trigger, cut=cut)
    thread = threading.Thread(target=proxy.serve, name="redis-proxy", daemon=True)
    thread.start()
    try:
        yield proxy
    finally:
        proxy.close()
        thread.join(timeout=10)
