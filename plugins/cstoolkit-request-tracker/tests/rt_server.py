"""Start a throwaway Request Tracker 5 server for the tests (a copy of the installed database).

Nothing of the system install is modified: RT reads its site configuration from the files named
by the ``RT_SITE_CONFIG`` and ``RT_SITE_CONFIG_DIR`` environment variables (RT::Config supports
both), which point into a temporary directory holding the database copy, so the packaged
``/etc/request-tracker5`` files and ``/var/lib/dbconfig-common/.../rtdb`` stay untouched.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

RT_LIB = Path("/usr/share/request-tracker5/lib")
RT_SERVER = Path("/usr/share/request-tracker5/libexec/rt-server")
RT_DB = Path("/var/lib/dbconfig-common/sqlite3/request-tracker5/rtdb")
ROOT_USER = "root"
ROOT_PASSWORD = "rtpass123"  # the preseeded initial root password (.ci/setup-servers)

# Custom fields the backend uses when present: the mirror marker and the tags stand-in.
SETUP_PERL = r"""
use strict; use warnings;
RT::LoadConfig(); RT::Init();
my $u = RT::User->new(RT->SystemUser); $u->Load("root");
for my $spec (["cst_marker", "FreeformSingle"], ["cst_tags", "FreeformMultiple"]) {
    my $cf = RT::CustomField->new(RT->SystemUser);
    $cf->LoadByName(Name => $spec->[0], LookupType => RT::Ticket->CustomFieldLookupType);
    unless ($cf->id) {
        my ($ok, $msg) = $cf->Create(Name => $spec->[0], Type => $spec->[1],
            LookupType => RT::Ticket->CustomFieldLookupType);
        die "CF $spec->[0]: $msg" unless $ok;
        ($ok, $msg) = $cf->AddToObject(RT::Queue->new(RT->SystemUser));
        die "CF $spec->[0] global: $msg" unless $ok;
    }
}
my $t = RT::AuthToken->new(RT::CurrentUser->new($u));
my ($id, $msg, $auth) = $t->Create(Owner => $u->Id, Description => "cstoolkit-tests");
die "token: $msg" unless $id;
print $auth;
"""


def missing() -> str | None:
    """Why no RT server can run here (None when everything needed is installed)."""
    for path in (RT_SERVER, RT_LIB / "RT.pm", RT_DB):
        if not path.exists():
            return f"{path} not found (install with .ci/setup-servers)"
    if not os.access(RT_DB, os.R_OK):
        return f"{RT_DB} is not readable by this user"
    if shutil.which("perl") is None:
        return "perl not found"
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class RTServer:
    base_url: str
    token: str
    user: str
    password: str
    workdir: Path
    process: subprocess.Popen[bytes]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


def _site_config(workdir: Path, port: int) -> dict[str, str]:
    """Write the site configuration for ``port``; return the environment that makes RT read it.

    The database copy is made once; a retry on another port rewrites only this file.
    """
    db = workdir / "rtdb"
    if not db.exists():
        shutil.copyfile(RT_DB, db)
    confdir = workdir / "RT_SiteConfig.d"
    confdir.mkdir(exist_ok=True)
    site = workdir / "RT_SiteConfig.pm"
    site.write_text(
        "Set($rtname, 'rt.localtest');\n"
        "Set($Organization, 'rt.localtest');\n"
        "Set($CorrespondAddress, 'rt@localhost');\n"
        "Set($CommentAddress, 'rt-comment@localhost');\n"
        "Set($Timezone, 'UTC');\n"
        "Set($BcryptCost, 4);\n"  # the token is hashed with it: cheap checks per request
        "Set($DatabaseType, 'SQLite');\n"
        f"Set($DatabaseName, '{db}');\n"
        "Set($WebPath, '');\n"
        "Set($WebDomain, '127.0.0.1');\n"
        f"Set($WebPort, {port});\n"
        f"Set($WebBaseURL, 'http://127.0.0.1:{port}');\n"
        "Set($LogToSyslog, undef);\n"
        "Set($LogToFile, undef);\n"
        "Set($LogToSTDERR, 'error');\n"
        "Set($MailCommand, 'testfile');\n"
        "1;\n"
    )
    env = dict(os.environ)
    env["RT_SITE_CONFIG"] = str(site)
    env["RT_SITE_CONFIG_DIR"] = str(confdir)
    return env


#: How many free ports a server start tries before giving up.
PORT_ATTEMPTS = 5


def start(workdir: Path, timeout: float = 60.0) -> RTServer:
    """Copy the database, create the custom fields and a token, start rt-server, wait for it.

    The port is free when chosen but only bound when rt-server starts: another process (a
    parallel test worker) may take it in between, so a start that fails on it is retried.
    """
    env = _site_config(workdir, free_port())
    made = subprocess.run(
        ["perl", f"-I{RT_LIB}", "-MRT", "-e", SETUP_PERL],
        env=env,
        capture_output=True,
        timeout=120,
        check=False,
    )
    if made.returncode != 0 or not made.stdout.strip():
        raise RuntimeError(f"RT setup failed: {made.stderr.decode(errors='replace')[-800:]}")
    token = made.stdout.decode().strip().splitlines()[-1]
    for _ in range(PORT_ATTEMPTS - 1):
        try:
            return _serve(workdir, token, timeout)
        except PortTaken:
            continue
    return _serve(workdir, token, timeout)


class PortTaken(RuntimeError):
    """rt-server could not bind its port: another process took it after it was chosen."""


def _serve(workdir: Path, token: str, timeout: float) -> RTServer:
    port = free_port()
    env = _site_config(workdir, port)
    logfile = workdir / "rt_server.log"
    with logfile.open("wb") as log:
        process = subprocess.Popen(
            [str(RT_SERVER), "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    server = RTServer(base, token, ROOT_USER, ROOT_PASSWORD, workdir, process)
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            text = logfile.read_text(errors="replace")
            error = PortTaken if "in use" in text else RuntimeError
            raise error(f"rt-server exited ({process.returncode}): {text[-800:]}")
        try:
            with urllib.request.urlopen(f"{base}/REST/2.0/rt", timeout=2) as answer:
                if answer.status:
                    break
        except urllib.error.HTTPError:
            break  # any HTTP answer (401 included) means the server is up
        except OSError:
            pass
        if time.monotonic() > deadline:
            server.stop()
            raise RuntimeError(f"rt-server did not answer within {timeout:.0f}s")
        time.sleep(0.2)
    return server


class RT:
    """The running server and a plain REST2 client (independent of the backend under test)."""

    def __init__(self, server: RTServer) -> None:
        self.server = server
        self.base_url = server.base_url
        self.token = server.token
        self.client = httpx.Client(
            base_url=server.base_url + "/REST/2.0",
            headers={"Authorization": f"token {server.token}"},
            timeout=30,
        )

    def config(self, **extra: Any) -> dict[str, Any]:
        return {
            "plugin": "request_tracker",
            "base_url": self.base_url,
            "token": self.token,
            **extra,
        }

    def post(self, path: str, body: Any) -> Any:
        answer = self.client.post(path, json=body)
        assert answer.status_code < 300, f"{path}: {answer.status_code} {answer.text[:200]}"
        return answer.json()

    def put(self, path: str, body: Any) -> Any:
        answer = self.client.put(path, json=body)
        assert answer.status_code < 300, f"{path}: {answer.status_code} {answer.text[:200]}"
        return answer.json()

    def get(self, path: str, **params: Any) -> Any:
        answer = self.client.get(path, params=params)
        assert answer.status_code < 300, f"{path}: {answer.status_code} {answer.text[:200]}"
        return answer.json()

    def queue(self, name: str) -> str:
        """Create a queue (or find it) and return its id."""
        found = self.get("/queues/all", fields="Name", per_page=100)["items"]
        for q in found:
            if q.get("Name") == name:
                return str(q["id"])
        return str(self.post("/queue", {"Name": name})["id"])

    def ticket(self, queue: str, subject: str, **extra: Any) -> str:
        body = {
            "Queue": queue,
            "Subject": subject,
            "Content": f"Body of {subject}",
            "Requestor": "customer@example.org",
            **extra,
        }
        return str(self.post("/ticket", body)["id"])

    def history(self, ticket: str) -> list[dict[str, Any]]:
        data = self.get(
            f"/ticket/{ticket}/history", fields="Type,Field,OldValue,NewValue", per_page=100
        )
        return list(data["items"])
