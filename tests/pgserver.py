"""A throwaway PostgreSQL server on 127.0.0.1 for the store tests.

Debian's ``postgresql`` package puts its programs in ``/usr/lib/postgresql/<major>/bin``. The
server refuses to run as root, so as root it is initialised and started as the ``postgres``
user (``runuser``); as any other user it runs as that user. It listens on 127.0.0.1 only, on a
free port, with trust authentication, in a temporary directory removed on stop.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path


def find_bindir() -> Path | None:
    """The directory of initdb/pg_ctl, newest major version first; None when absent."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=_major, reverse=True)
    if found:
        return Path(found[0]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _major(path: str) -> int:
    try:
        return int(Path(path).parts[-3])
    except ValueError:
        return 0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class PgServer:
    bindir: Path
    root: Path
    port: int
    user: str

    @property
    def url(self) -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/cst_test"

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        cmd = list(args)
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)

    def start(self) -> None:
        data = self.root / "data"
        init = self._run(
            str(self.bindir / "initdb"), "-D", str(data), "-U", self.user, "--auth=trust",
            "--encoding=UTF8", "--locale=C.UTF-8", "-N",
        )  # fmt: skip
        if init.returncode != 0:
            raise RuntimeError(f"initdb failed: {init.stderr.strip() or init.stdout.strip()}")
        opts = (
            f"-c listen_addresses=127.0.0.1 -c port={self.port} -k {self.root} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
            "-c max_connections=100"
        )
        started = self._run(
            str(self.bindir / "pg_ctl"), "-D", str(data), "-l", str(self.root / "log"),
            "-o", opts, "-w", "-t", "60", "start",
        )  # fmt: skip
        if started.returncode != 0:
            log = (self.root / "log").read_text() if (self.root / "log").exists() else ""
            raise RuntimeError(f"pg_ctl start failed: {started.stderr.strip()} {log[-2000:]}")
        created = self._run(
            str(self.bindir / "createdb"), "-h", "127.0.0.1", "-p", str(self.port),
            "-U", self.user, "cst_test",
        )  # fmt: skip
        if created.returncode != 0:
            raise RuntimeError(f"createdb failed: {created.stderr.strip()}")

    def stop(self) -> None:
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.root / "data"), "-m", "immediate",
                  "-w", "stop")  # fmt: skip
        shutil.rmtree(self.root, ignore_errors=True)


def start_server() -> PgServer:
    """Start a server or raise RuntimeError saying why none could be started."""
    bindir = find_bindir()
    if bindir is None:
        raise RuntimeError("PostgreSQL is not installed (Debian: apt-get install postgresql)")
    root = Path(tempfile.mkdtemp(prefix="cst-pg-"))
    user = "postgres"
    if os.geteuid() == 0:
        try:
            pw = pwd.getpwnam("postgres")
        except KeyError:
            raise RuntimeError("running as root but there is no postgres user") from None
        os.chown(root, pw.pw_uid, pw.pw_gid)
    else:
        user = pwd.getpwuid(os.geteuid()).pw_name
    server = PgServer(bindir, root, _free_port(), user)
    try:
        server.start()
    except BaseException:
        server.stop()
        raise
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", server.port), timeout=1).close()
            return server
        except OSError:
            time.sleep(0.1)
    server.stop()
    raise RuntimeError("PostgreSQL started but does not accept connections on 127.0.0.1")
