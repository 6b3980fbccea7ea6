"""A Ray cluster on loopback for tests and measurements: a head and further nodes, one CPU each.

Each node is a `ray start --block` process of ours, so stopping the cluster ends exactly the
processes it started (their `ray start` tears down its raylet, GCS and workers on SIGTERM),
never another cluster on the same machine as a plain `ray stop` would. Ports are picked free.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RAY = Path(sys.executable).with_name("ray")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class LoopbackRayCluster:
    """`with LoopbackRayCluster(nodes=2) as cluster:` ... `cluster.address` ('127.0.0.1:PORT')."""

    def __init__(self, nodes: int = 2, cpus_per_node: int = 1, timeout_s: float = 300.0):
        self.nodes, self.cpus, self.timeout_s = nodes, cpus_per_node, timeout_s
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        # short path: Ray's unix sockets live under it (107-character limit)
        self.temp_dir = Path(tempfile.mkdtemp(prefix="ray", dir="/tmp"))
        self.env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
        self.processes: list[subprocess.Popen] = []

    def _start(self, *options: str) -> None:
        log = open(self.temp_dir / f"node{len(self.processes)}.log", "w")
        self.processes.append(subprocess.Popen(
            [str(RAY), "start", "--block", "--node-ip-address=127.0.0.1", f"--num-cpus={self.cpus}", "--num-gpus=0",
             "--object-store-memory=80000000", f"--dashboard-agent-listen-port={free_port()}", *options],
            stdout=log, stderr=subprocess.STDOUT, env=self.env))

    def alive_nodes(self) -> int:
        status = subprocess.run([str(RAY), "status", f"--address={self.address}"], capture_output=True, text=True,
                                env=self.env, timeout=60)
        if status.returncode != 0:
            return 0
        active = status.stdout.split("Active:", 1)[-1].split("Pending:", 1)[0]
        return sum(" node_" in line for line in active.splitlines())

    def _wait_for(self, nodes: int) -> None:
        deadline = time.monotonic() + self.timeout_s
        while self.alive_nodes() < nodes:
            if time.monotonic() > deadline or any(p.poll() is not None for p in self.processes):
                logs = "\n".join(p.read_text()[-2000:] for p in sorted(self.temp_dir.glob("node*.log")))
                raise RuntimeError(f"Ray nodes did not come up:\n{logs}")
            time.sleep(1.0)

    def __enter__(self) -> "LoopbackRayCluster":
        try:
            self._start("--head", f"--port={self.port}", "--include-dashboard=false",
                        f"--dashboard-port={free_port()}", f"--temp-dir={self.temp_dir}", "--disable-usage-stats")
            self._wait_for(1)
            for _ in range(self.nodes - 1):
                self._start(f"--address={self.address}")
            self._wait_for(self.nodes)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        for process in reversed(self.processes):  # workers first, the head last
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        self.processes.clear()
        shutil.rmtree(self.temp_dir, ignore_errors=True)

    def __exit__(self, *exc) -> None:
        self.stop()
