"""The test run is cut off from the network, in this process and in child processes (nbval kernels)."""

import os
import socket
import subprocess
import sys
import urllib.request

import pytest


def test_remote_connections_fail():
    with pytest.raises(OSError, match="network access is blocked"):
        socket.create_connection(("93.184.216.34", 80), timeout=1)
    with pytest.raises(OSError, match="network access is blocked"):
        urllib.request.urlopen("http://example.com", timeout=1)


def test_loopback_still_works():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    client = socket.create_connection(server.getsockname(), timeout=1)
    client.close()
    server.close()


def test_child_processes_are_blocked_too():
    """A kernel started by nbval inherits the environment and so the block."""
    code = "import socket; socket.create_connection(('93.184.216.34', 80), timeout=1)"
    result = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True, env=os.environ, timeout=60)
    assert result.returncode != 0
    assert "NetworkBlocked" in result.stderr and "network access is blocked" in result.stderr
