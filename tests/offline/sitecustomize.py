"""Block network access in every Python process of the test run.

The root ``conftest.py`` puts this folder on ``PYTHONPATH`` and sets
``WCL_OFFLINE=1``, so the pytest process and every kernel that nbval starts
import this file at start-up. Any attempt to resolve a remote host name or to
connect to an address outside the loopback range then raises
:class:`NetworkBlocked`: a hidden download becomes a test failure. Loopback and
Unix sockets stay open, since Jupyter kernels talk to pytest through them.
"""

import ipaddress
import os
import socket

ENV = "WCL_OFFLINE"
_LOCAL_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost", ""}


class NetworkBlocked(OSError):
    """Raised for a connection attempt outside this machine while the tests run."""


def _is_local(host):
    if host is None:
        return True
    if isinstance(host, bytes):
        host = host.decode()
    host = str(host).strip("[]").lower()
    if host in _LOCAL_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False  # a remote host name


def _guard(function, describe):
    def guarded(*args, **kwargs):
        target = describe(*args, **kwargs)
        if target is not None and not _is_local(target):
            raise NetworkBlocked(f"network access is blocked in the tests (tried {target!r})")
        return function(*args, **kwargs)

    guarded.__wrapped__ = function
    return guarded


def _address_host(self, address, *rest):
    if getattr(self, "family", None) == socket.AF_UNIX:
        return None
    return address[0] if isinstance(address, tuple) else address


def block():
    """Patch ``socket`` so that only loopback and Unix-socket traffic is possible (idempotent)."""
    if getattr(socket.socket.connect, "__wrapped__", None) is not None:
        return
    socket.socket.connect = _guard(socket.socket.connect, _address_host)
    socket.socket.connect_ex = _guard(socket.socket.connect_ex, _address_host)
    socket.getaddrinfo = _guard(socket.getaddrinfo, lambda host, *a, **k: host)
    socket.gethostbyname = _guard(socket.gethostbyname, lambda host: host)


if os.environ.get(ENV) == "1":
    block()
