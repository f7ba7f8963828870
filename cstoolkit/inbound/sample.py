"""The sample mailbox ``cst quickstart`` writes into its workspace (``Maildir/``): four mails
customers sent to the sample desk, in Spanish, English and Portuguese. One asks what a sample
knowledge-base article answers, one asks for a person, one asks something no article answers,
and the last is that customer's reply (``In-Reply-To``), which becomes a comment on their
ticket. Data only, and :func:`write`."""

from __future__ import annotations

import os
import time
from datetime import timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

from cstoolkit.model import now

#: Where the sample mail goes in the workspace.
FOLDER = "Maildir"

#: (Message-ID, From, Subject, Content-Language, text, In-Reply-To)
MAILS: tuple[tuple[str, str, str, str, str, str], ...] = (
    (
        "<qs-1.lucia@cliente.example>",
        "Lucía Fernández <lucia.fernandez@cliente.example>",
        "No me llega el enlace para restablecer la contraseña",
        "es",
        "Hola:\n\nHe pedido tres veces restablecer la contraseña y el enlace no me llega al "
        "correo. ¿Qué puedo hacer?\n\nGracias,\nLucía",
        "",
    ),
    (
        "<qs-2.mark@customer.example>",
        "Mark Evans <mark.evans@customer.example>",
        "Invoice for order 88412",
        "en",
        "Hi,\n\nthe invoice for order 88412 shows the wrong company name. I would like to talk "
        "to a person about it, please.\n\nMark",
        "",
    ),
    (
        "<qs-3.joana@cliente.example>",
        "Joana Souza <joana.souza@cliente.example>",
        "Mudar o endereço de entrega",
        "pt",
        "Olá,\n\nconsigo mudar o endereço de entrega de uma compra que já fiz? Vou estar "
        "viajando na semana que vem.\n\nObrigada,\nJoana",
        "",
    ),
    (
        "<qs-4.joana@cliente.example>",
        "Joana Souza <joana.souza@cliente.example>",
        "Re: Mudar o endereço de entrega",
        "pt",
        "Esqueci de dizer: o número da compra é 77120.\n\nJoana",
        "<qs-3.joana@cliente.example>",
    ),
)


def write(folder: Path) -> int:
    """Create the Maildir ``folder`` with the sample mails in ``new/``, oldest first, unless
    it exists (a re-run keeps what is there). Returns how many mails were written."""
    if folder.exists():
        return 0
    for sub in ("tmp", "new", "cur"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    sent = now() - timedelta(hours=len(MAILS) + 1)
    start = time.time() - len(MAILS)
    for i, (mid, sender, subject, language, text, answers) in enumerate(MAILS, start=1):
        msg = EmailMessage()
        msg["From"] = sender
        msg["To"] = "support@desk.example"
        msg["Subject"] = subject
        msg["Date"] = format_datetime(sent + timedelta(hours=i))
        msg["Message-ID"] = mid
        if answers:
            msg["In-Reply-To"] = answers
            msg["References"] = answers
        msg.set_content(text)
        msg["Content-Language"] = language  # after set_content, which clears Content-* headers
        name = f"{int(start) + i}.M{i}P{os.getpid()}.quickstart"
        tmp = folder / "tmp" / name
        tmp.write_bytes(msg.as_bytes())
        os.utime(tmp, (start + i, start + i))  # the poll takes the oldest first
        tmp.rename(folder / "new" / name)  # delivered as an MTA does: tmp/, then new/
    return len(MAILS)
