"""Helpers for the reliability tests: the local server and Azurite as real processes on 127.0.0.1.

A module of its own rather than conftest.py, so that tests import it by a name
that no other test folder uses. The API runs as `python -m imageauth.serve`,
the way a user starts it, so the tests see what a client sees over real
sockets and can read the server process's memory from /proc.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from loopback import free_port, stop, wait_for_port

REPO = Path(__file__).resolve().parents[2]
AZURITE_BLOB = REPO / "node_modules" / ".bin" / "azurite-blob"
AZURITE_ACCOUNT = "devstoreaccount1"
# Azurite's published development key: a well-known value, not a secret.
# pragma: allowlist nextline secret
AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
START_TIMEOUT_S = 60
# Small limits for the limit tests, so that they move kilobytes rather than megabytes.
LIMITED_ENV = {
    "IMAGEAUTH_MAX_BYTES": "200000",
    "IMAGEAUTH_MAX_FILES": "3",
    "IMAGEAUTH_MAX_REQUEST_BYTES": "400000",
}


@dataclass
class Server:
    process: subprocess.Popen
    base_url: str
    host: str
    port: int

    def memory_kib(self, field: str = "VmRSS") -> int:
        """`VmRSS` (now) or `VmHWM` (peak) of the server process, from /proc."""
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
        raise KeyError(field)


def start_server(extra_env: dict[str, str] | None = None) -> Server:
    port = free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("IMAGEAUTH_")}
    env.update(extra_env or {})
    process = subprocess.Popen(
        [sys.executable, "-m", "imageauth.serve", "--host", "127.0.0.1", "--port", str(port),
         "--log-level", "warning"],
        cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        wait_for_port(port, process, START_TIMEOUT_S)
    except Exception:
        stop(process)
        raise
    return Server(process, f"http://127.0.0.1:{port}", "127.0.0.1", port)


def azurite_connection_string(port: int, key: str = AZURITE_KEY) -> str:
    return (
        f"DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};AccountKey={key};"
        f"BlobEndpoint=http://127.0.0.1:{port}/{AZURITE_ACCOUNT};"
    )
