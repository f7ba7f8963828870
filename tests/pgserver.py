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


#: How to get the server the tests start (the message of their skip).
PG_ENABLE = "apt-get install postgresql (the tests start their own server; nothing to configure)"

#: How many free ports a server start tries before giving up.
PORT_ATTEMPTS = 5


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

    def start(self, init: bool = True) -> None:
        """initdb, then start on :attr:`port`; on a port taken meanwhile, on another one.
        With ``init=False`` the cluster in ``root/data`` exists already (a kept one): it is
        only started.

        The port is free when chosen but only bound when the server starts: another process (a
        parallel test worker) may take it in between, so a start that fails on it is retried.
        """
        data = self.root / "data"
        if init:
            made = self._run(
                str(self.bindir / "initdb"), "-D", str(data), "-U", self.user, "--auth=trust",
                "--encoding=UTF8", "--locale=C.UTF-8", "-N",
            )  # fmt: skip
            if made.returncode != 0:
                raise RuntimeError(f"initdb failed: {made.stderr.strip() or made.stdout.strip()}")
        for attempt in range(PORT_ATTEMPTS):
            if attempt:
                self.port = _free_port()
            log = self.root / f"log.{attempt}"
            opts = (
                f"-c listen_addresses=127.0.0.1 -c port={self.port} -k {self.root} "
                "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
                "-c max_connections=100"
            )
            started = self._run(
                str(self.bindir / "pg_ctl"), "-D", str(data), "-l", str(log),
                "-o", opts, "-w", "-t", "60", "start",
            )  # fmt: skip
            if started.returncode == 0:
                break
            text = log.read_text(errors="replace") if log.exists() else ""
            if "already in use" not in text:
                raise RuntimeError(f"pg_ctl start failed: {started.stderr.strip()} {text[-2000:]}")
        else:
            raise RuntimeError(f"pg_ctl start failed: {PORT_ATTEMPTS} ports were taken meanwhile")
        if not init:
            return
        created = self._run(
            str(self.bindir / "createdb"), "-h", "127.0.0.1", "-p", str(self.port),
            "-U", self.user, "cst_test",
        )  # fmt: skip
        if created.returncode != 0:
            raise RuntimeError(f"createdb failed: {created.stderr.strip()}")

    def stop(self, keep: bool = False) -> None:
        """Stop the server and remove its directory; ``keep``: a clean shutdown that leaves
        the cluster in ``root/data`` to be started again (``start(init=False)``)."""
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.root / "data"),
                  "-m", "fast" if keep else "immediate", "-w", "stop")  # fmt: skip
        if not keep:
            shutil.rmtree(self.root, ignore_errors=True)


def start_server(root: Path | None = None, init: bool = True) -> PgServer:
    """Start a server or raise RuntimeError saying why none could be started: in a new
    temporary directory, or in ``root`` (its cluster in ``root/data``, made there unless
    ``init`` is false: then it exists and is only started)."""
    bindir = find_bindir()
    if bindir is None:
        raise RuntimeError(
            "PostgreSQL is not installed (no initdb on PATH or in /usr/lib/postgresql)"
        )
    if root is None:
        root = Path(tempfile.mkdtemp(prefix="cst-pg-"))
    else:
        root.mkdir(parents=True, exist_ok=True)
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
        server.start(init)
    except BaseException:
        server.stop(keep=not init)
        raise
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", server.port), timeout=1).close()
            return server
        except OSError:
            time.sleep(0.1)
    server.stop(keep=not init)
    raise RuntimeError("PostgreSQL started but does not accept connections on 127.0.0.1")
