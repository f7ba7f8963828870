"""A throwaway Dovecot IMAP server on 127.0.0.1 for the inbound mailbox tests.

Debian's ``dovecot-imapd`` package provides ``/usr/sbin/dovecot``. The server runs in the
foreground (``dovecot -F``) with its own configuration in a temporary directory: plain IMAP on
a free port of 127.0.0.1 only, one user from a passwd file, Maildir storage in the same
directory. As root, Dovecot's own ``dovecot``/``dovenull`` users run its processes and own the
mail (it refuses uid 0 for mail); as any other user, that user runs everything. Stopped and
removed when the session ends.
"""

from __future__ import annotations

import grp
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

#: How to get the server the tests start (the message of their skip).
IMAP_ENABLE = "apt-get install dovecot-imapd (the tests start their own server on 127.0.0.1)"
USER = "cst"
PASSWORD = "imap-test-password-31f"


def find_dovecot() -> str | None:
    found = shutil.which("dovecot") or "/usr/sbin/dovecot"
    return found if os.access(found, os.X_OK) else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class ImapServer:
    root: Path
    port: int
    process: subprocess.Popen[bytes]
    user: str = USER
    password: str = PASSWORD

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        shutil.rmtree(self.root, ignore_errors=True)

    def client(self) -> object:
        import imaplib

        conn = imaplib.IMAP4("127.0.0.1", self.port, timeout=10)
        conn.login(self.user, self.password)
        return conn


def _config(root: Path, port: int) -> str:
    if os.geteuid() == 0:
        internal, login = "dovecot", "dovenull"
        mail_user, mail_group = "dovecot", "dovecot"
    else:
        me = pwd.getpwuid(os.geteuid()).pw_name
        internal = login = mail_user = me
        mail_group = grp.getgrgid(os.getegid()).gr_name
    return f"""
protocols = imap
listen = 127.0.0.1
base_dir = {root}/run
state_dir = {root}/state
instance_name = cst-test-{port}
log_path = {root}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
default_internal_user = {internal}
default_internal_group = {mail_group if os.geteuid() != 0 else "dovecot"}
default_login_user = {login}
first_valid_uid = 1
mail_location = maildir:{root}/mail/%u
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/users
}}
userdb {{
  driver = static
  args = uid={mail_user} gid={mail_group} home={root}/mail/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
"""


def start_server() -> ImapServer:
    """Start Dovecot on a free port; RuntimeError (with the log's end) when it does not come up."""
    binary = find_dovecot()
    if binary is None:
        raise RuntimeError("dovecot is not installed")
    root = Path(tempfile.mkdtemp(prefix="cst-imap-"))
    for sub in ("run", "state", "mail"):
        (root / sub).mkdir()
    (root / "users").write_text(f"{USER}:{{PLAIN}}{PASSWORD}\n")
    if os.geteuid() == 0:
        os.chmod(root, 0o755)
        shutil.chown(root / "mail", "dovecot", "dovecot")
    port = _free_port()
    (root / "dovecot.conf").write_text(_config(root, port))
    process = subprocess.Popen(
        [binary, "-F", "-c", str(root / "dovecot.conf")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    server = ImapServer(root, port, process)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
                if sock.recv(64).startswith(b"* OK"):
                    return server
        except OSError:
            time.sleep(0.1)
    log = (root / "dovecot.log").read_text()[-500:] if (root / "dovecot.log").exists() else ""
    stopped = process.poll() is not None and process.stderr is not None
    err = process.stderr.read().decode()[-300:] if stopped and process.stderr else ""
    server.stop()
    raise RuntimeError(f"dovecot did not start: {err or log or 'no output'}")
