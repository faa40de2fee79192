"""A throwaway PostgreSQL cluster for the tests, and fresh databases on it (or on a server of your own).

``start_cluster`` runs ``initdb`` (trust authentication, loopback only) in a temporary folder and
``pg_ctl start -w`` on a free port; ``PostgresServer`` creates and drops one database per test. When the
test process runs as root, the PostgreSQL binaries run as the ``postgres`` OS user (``initdb`` refuses
root). Durability is switched off (``fsync``, ``synchronous_commit``, ``full_page_writes``): the cluster
lives for one test session, and a database per test then costs milliseconds.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
import threading
import uuid
from collections.abc import Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.engine import URL, make_url

from tests.servers import free_port

POSTGRES_ROOTS = (Path("/usr/lib/postgresql"), Path("/usr/local/pgsql"), Path("/opt/postgresql"))
NEEDED = ("initdb", "pg_ctl")
# The session time zone of the test cluster is not UTC on purpose: a datetime that loses or invents its
# time zone on the way through the store shows up as a shifted value.
SERVER_TIME_ZONE = "Asia/Ho_Chi_Minh"


class PostgresUnavailable(RuntimeError):
    """PostgreSQL cannot be run here (binaries or the ``postgres`` user missing); the message says why."""


class PostgresStartError(RuntimeError):
    """The binaries exist but the cluster did not start; the message carries the server log."""


def find_bindir() -> Path:
    """The folder of ``initdb`` and ``pg_ctl``: the newest ``/usr/lib/postgresql/N/bin``, else ``PATH``."""
    candidates: list[Path] = []
    for root in POSTGRES_ROOTS:
        if (root / "bin").is_dir():
            candidates.append(root / "bin")
        if root.is_dir():
            versions = [p for p in root.iterdir() if p.name.split(".")[0].isdigit()]
            versions.sort(key=lambda p: tuple(int(x) for x in p.name.split(".") if x.isdigit()), reverse=True)
            candidates[:0] = [p / "bin" for p in versions]
    on_path = shutil.which("pg_ctl")
    if on_path:
        candidates.append(Path(on_path).parent)
    for bindir in candidates:
        if all(os.access(bindir / name, os.X_OK) for name in NEEDED):
            return bindir
    raise PostgresUnavailable(
        "PostgreSQL server binaries (initdb, pg_ctl) not found under /usr/lib/postgresql/*/bin or on PATH; "
        "install PostgreSQL or set LIENHOP_TEST_DATABASE_URL to a server that lets you create databases"
    )


def _as_postgres_user() -> tuple[list[str], pwd.struct_passwd | None]:
    """The command prefix that runs a binary as a user ``initdb`` accepts (not root)."""
    if os.geteuid() != 0:
        return [], None
    try:
        user = pwd.getpwnam("postgres")
    except KeyError:
        raise PostgresUnavailable(
            "tests run as root and there is no 'postgres' OS user to run initdb as (initdb refuses root)"
        ) from None
    runuser = shutil.which("runuser")
    if runuser is None:
        raise PostgresUnavailable("tests run as root and runuser(1) is missing to run initdb as 'postgres'")
    return [runuser, "-u", "postgres", "--"], user


def run_sql(admin_url: URL, *statements: str) -> None:
    """Run statements outside a transaction (``CREATE DATABASE`` needs that) on ``admin_url``.

    asyncpg is the only PostgreSQL driver installed; it runs in a thread of its own with its own event
    loop, so this works from a sync fixture and from inside a test's running loop alike.
    """

    async def go() -> None:
        import asyncpg  # the `postgres` extra; only needed once a PostgreSQL test runs

        dsn = admin_url.set(drivername="postgresql").render_as_string(hide_password=False)
        conn = await asyncpg.connect(dsn, timeout=30)
        try:
            for statement in statements:
                await conn.execute(statement)
        finally:
            await conn.close()

    _in_thread(go())


def _in_thread(coro: Coroutine[Any, Any, None]) -> None:
    failure: list[BaseException] = []

    def target() -> None:
        try:
            asyncio.run(coro)
        except BaseException as exc:  # re-raised in the caller's thread
            failure.append(exc)

    thread = threading.Thread(target=target, name="pg-admin", daemon=True)
    thread.start()
    thread.join()
    if failure:
        raise failure[0]


@dataclass
class PostgresServer:
    """A server the tests may create databases on: a started cluster or ``LIENHOP_TEST_DATABASE_URL``."""

    admin_url: URL
    cluster: Cluster | None = None
    _names: itertools.count[int] = field(default_factory=itertools.count, repr=False)
    _prefix: str = field(default_factory=lambda: f"lienhop_test_{uuid.uuid4().hex[:8]}", repr=False)
    _file_copy: bool = field(default=True, repr=False)

    def url_for(self, database: str) -> str:
        """The ``postgresql+asyncpg://`` URL of one database on this server (what the store is given)."""
        url = self.admin_url.set(drivername="postgresql+asyncpg", database=database)
        return url.render_as_string(hide_password=False)

    def create_database(self) -> str:
        """Create an empty database with a unique name; returns its name."""
        name = f"{self._prefix}_{next(self._names)}"
        create = f"CREATE DATABASE \"{name}\" TEMPLATE template0 ENCODING 'UTF8'"
        if self._file_copy:
            try:
                # PostgreSQL 15's default (WAL_LOG) writes the whole template to the WAL: about 4 times
                # slower here than copying its files, which is cheap with fsync off
                run_sql(self.admin_url, create + " STRATEGY FILE_COPY")
                return name
            except Exception as exc:  # a server older than 15 has no STRATEGY: plain CREATE from now on
                if "strategy" not in str(exc).lower() and "syntax" not in str(exc).lower():
                    raise
                self._file_copy = False
        run_sql(self.admin_url, create)
        return name

    def drop_database(self, name: str) -> None:
        """Drop a database made by :meth:`create_database`, closing any connection a test left open."""
        try:
            run_sql(self.admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        except Exception as exc:  # PostgreSQL before 13 has no FORCE: drop it if nothing holds it open
            if "syntax" not in str(exc).lower():
                raise
            run_sql(self.admin_url, f'DROP DATABASE IF EXISTS "{name}"')

    def stop(self) -> None:
        """Stop the cluster this object started (a server given by URL is left alone)."""
        if self.cluster is not None:
            self.cluster.stop()


@dataclass
class Cluster:
    """A running throwaway cluster; ``stop()`` ends it and removes its folder (also at interpreter exit)."""

    bindir: Path
    root: Path
    port: int
    prefix: list[str]
    _stopped: bool = field(default=False, repr=False)

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def log_path(self) -> Path:
        return self.root / "server.log"

    def stop(self) -> None:
        """``pg_ctl stop -m immediate`` (nothing in it is worth a clean shutdown), then remove the folder."""
        if self._stopped:
            return
        self._stopped = True
        with contextlib.suppress(Exception):
            atexit.unregister(self.stop)
        with contextlib.suppress(Exception):
            subprocess.run(
                [
                    *self.prefix,
                    str(self.bindir / "pg_ctl"),
                    "stop",
                    "-D",
                    str(self.data_dir),
                    "-m",
                    "immediate",
                ],
                cwd=self.root,
                capture_output=True,
                timeout=60,
                check=False,
            )
        shutil.rmtree(self.root, ignore_errors=True)


def start_cluster(attempts: int = 3) -> PostgresServer:
    """initdb a cluster in a temporary folder and start it on a free loopback port."""
    bindir = find_bindir()
    prefix, user = _as_postgres_user()
    root = Path(tempfile.mkdtemp(prefix="lienhop-pg-"))
    if user is not None:
        os.chown(root, user.pw_uid, user.pw_gid)
    cluster = Cluster(bindir=bindir, root=root, port=0, prefix=prefix)
    atexit.register(cluster.stop)
    try:
        _run(
            cluster,
            "initdb",
            "-D",
            str(cluster.data_dir),
            "-U",
            "postgres",
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C",
            "--no-sync",
        )
        last_error = ""
        for _ in range(attempts):  # another process may take the free port before the server binds it
            cluster.port = free_port()
            options = " ".join(
                [
                    "-c listen_addresses=127.0.0.1",
                    f"-c port={cluster.port}",
                    f"-c unix_socket_directories='{root}'",
                    "-c fsync=off",
                    "-c synchronous_commit=off",
                    "-c full_page_writes=off",
                    f"-c timezone={SERVER_TIME_ZONE}",
                    "-c max_connections=200",
                ]
            )
            pg_ctl = [str(bindir / "pg_ctl"), "start", "-w", "-t", "60", "-D", str(cluster.data_dir)]
            started = subprocess.run(
                [*prefix, *pg_ctl, "-l", str(cluster.log_path), "-o", options],
                cwd=root,
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
            if started.returncode == 0:
                admin = make_url(f"postgresql+asyncpg://postgres@127.0.0.1:{cluster.port}/postgres")
                return PostgresServer(admin_url=admin, cluster=cluster)
            last_error = started.stdout + started.stderr + _tail(cluster.log_path)
        raise PostgresStartError(f"PostgreSQL did not start in {attempts} attempts:\n{last_error}")
    except BaseException:
        cluster.stop()
        raise


def _run(cluster: Cluster, binary: str, *args: str) -> None:
    done = subprocess.run(
        [*cluster.prefix, str(cluster.bindir / binary), *args],
        cwd=cluster.root,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if done.returncode != 0:
        raise PostgresStartError(f"{binary} failed ({done.returncode}):\n{done.stdout}{done.stderr}")


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def server_from_url(url: str) -> PostgresServer:
    """A server given by ``LIENHOP_TEST_DATABASE_URL`` (any driver name; asyncpg is used)."""
    parsed = make_url(url)
    if not parsed.get_backend_name().startswith("postgresql"):
        raise ValueError(f"LIENHOP_TEST_DATABASE_URL must be a postgresql:// URL, not {parsed.drivername}")
    return PostgresServer(admin_url=parsed.set(drivername="postgresql+asyncpg"))
