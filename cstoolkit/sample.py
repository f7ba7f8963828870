"""Deterministic synthetic helpdesk data, written in the local backend's JSON Lines format.

``cst sample generate`` calls :func:`generate_file`. The output is meant to look like a real
Spanish/English/Portuguese support desk so that metrics, routing recipes and reports have
something believable to chew on:

* arrivals follow an hour-of-day and weekday profile in Europe/Madrid local time;
* customers come from a pool of ~tickets/3 and some of them write much more often than others;
* every ticket has a full event history (routing, replies, internal notes, pending and on-hold
  periods, escalations, reopenings, automatic closing) cut off at the end of the period, so the
  last days naturally hold a backlog of unsolved tickets.

Design constraints:

* **Deterministic.** Everything derives from ``spec.seed`` through :class:`random.Random` (whose
  algorithms are stable across CPython releases) and a 64-bit integer hash, never from
  ``hash()`` or the clock, so the same spec gives byte-identical output. Madrid's daylight saving
  rule is computed here rather than read from the system's tz database for the same reason.
* **Streaming.** Arrivals are drawn hour by hour in time order and each ticket is written as soon
  as it is simulated. Memory is bounded by one hour's arrivals plus one byte per customer in the
  pool (whether its ``person`` line was written yet): about 0.4 MB for a million tickets.
"""

from __future__ import annotations

import bisect
import contextlib
import itertools
import json
import math
import os
import random
import time
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import IO, Any, TypeVar

from cstoolkit.errors import UsageError
from cstoolkit.model import Channel, EventKind, Priority, Role, Status, now

__all__ = ["SampleSpec", "SampleStats", "generate", "generate_file"]

_T = TypeVar("_T")

_HOUR = 3600
_DAY = 86400
_CLOSE_AFTER = 4 * _DAY  # a solved ticket is closed by the system this long after its last solve
_AUTO_SOLVE_AFTER = 3 * _DAY  # a pending ticket the customer never answers is solved by system


@dataclass
class SampleSpec:
    """What to generate.

    ``end`` is the (aware) end of the period, truncated to the second; arrivals fall in
    ``[end - days, end)`` and no event is later than ``end``. The default is today's midnight UTC
    so that quickstart data always looks current. ``agents`` defaults to a head count that scales
    with the daily volume: ``max(8, tickets / days / 12)``, capped at 200.
    """

    tickets: int = 5000
    days: int = 90
    seed: int = 1
    end: datetime | None = None
    agents: int | None = None
    #: Add customers' survey answers (CSAT, some NPS) after solves: see :func:`_survey_answers`.
    #: Off by default, so the default output (and the benchmarks' inputs) stay as they were;
    #: drawn from their own random stream, so the rest of the file is the same either way.
    survey_answers: bool = False


@dataclass
class SampleStats:
    """What was written: line counts by kind and the size in bytes (UTF-8)."""

    tickets: int
    events: int
    people: int
    groups: int
    bytes: int


# -- distributions -----------------------------------------------------------------------------

# Relative arrival rate by hour of the day, Europe/Madrid local time: morning and afternoon peaks
# (9-12, 14-17), a lunch dip and a quiet night.
_HOUR_WEIGHTS = (
    0.15, 0.10, 0.08, 0.07, 0.08, 0.12, 0.25, 0.50, 0.85, 1.30, 1.45, 1.40,
    1.15, 0.90, 1.20, 1.35, 1.30, 1.10, 0.85, 0.70, 0.55, 0.45, 0.35, 0.22,
)  # fmt: skip
# Relative arrival rate by weekday, Monday first: weekends get about a third of a weekday.
_WEEKDAY_WEIGHTS = (1.10, 1.05, 1.00, 1.00, 0.90, 0.35, 0.30)

_CHANNELS = (
    (Channel.EMAIL.value, 0.40),
    (Channel.CHAT.value, 0.20),
    (Channel.WHATSAPP.value, 0.15),
    (Channel.WEB.value, 0.12),
    (Channel.PHONE.value, 0.08),
    (Channel.SOCIAL.value, 0.05),
)
_LIVE_CHANNELS = frozenset({Channel.CHAT.value, Channel.PHONE.value})
_LANGUAGES = (("es", 0.45), ("en", 0.35), ("pt", 0.20))
_PLANS = (("free", 0.60), ("paid", 0.32), ("enterprise", 0.08))
_LOW, _NORMAL, _HIGH, _URGENT = (p.value for p in Priority)
_PRIORITY_ORDER = (_LOW, _NORMAL, _HIGH, _URGENT)
# Priority by plan; weighted by the plan mix this gives low 20%, normal 55%, high 18%, urgent 7%.
_PRIORITIES = {
    "free": ((_LOW, 0.24), (_NORMAL, 0.58), (_HIGH, 0.14), (_URGENT, 0.04)),
    "paid": ((_LOW, 0.17), (_NORMAL, 0.54), (_HIGH, 0.21), (_URGENT, 0.08)),
    "enterprise": ((_LOW, 0.05), (_NORMAL, 0.40), (_HIGH, 0.33), (_URGENT, 0.22)),
}
# How much faster (<1) or slower (>1) agents answer, by priority.
_PRIORITY_SPEED = {_LOW: 1.25, _NORMAL: 1.0, _HIGH: 0.75, _URGENT: 0.5}
_TOPICS = (
    ("billing", 0.26),
    ("login", 0.18),
    ("bug", 0.20),
    ("shipping", 0.14),
    ("feature", 0.07),
    ("account", 0.15),
)
_TOPIC_GROUP = {
    "billing": "billing",
    "login": "general",
    "bug": "technical",
    "shipping": "general",
    "feature": "general",
    "account": "general",
}
_TOPIC_PRODUCTS = {
    "billing": ("subscription", "store"),
    "login": ("web app", "mobile app"),
    "bug": ("web app", "mobile app", "api"),
    "shipping": ("store",),
    "feature": ("web app", "mobile app", "api"),
    "account": ("subscription", "web app"),
}
_ESCALATE_TO = {"general": "technical", "billing": "escalations", "technical": "escalations"}

# Lifecycle probabilities (per ticket, before the end-of-period cut-off).
_P_INTERNAL_NOTE = 0.23  # plus the note every escalation carries: ~25% in all
_P_ON_HOLD = 0.05
_P_REOPEN = 0.08
_P_ESCALATE = 0.03
_P_PRIORITY_TWEAK = 0.05
_P_PENDING_AFTER_REPLY = 0.6
_P_AUTO_SOLVE = 0.08  # the customer goes silent and the pending ticket is solved by the system
_ROUNDS_ASYNC = ((0, 0.40), (1, 0.33), (2, 0.17), (3, 0.07), (4, 0.03))
_ROUNDS_LIVE = ((0, 0.25), (1, 0.35), (2, 0.25), (3, 0.15))

# Median delays in seconds (log-normal). Agent delays are in *business* seconds (see
# _advance_business); customer delays are wall-clock.
_FIRST_REPLY = {"async": 2 * _HOUR, "whatsapp": 15 * 60, "live": 90}
_NEXT_REPLY = {"async": 90 * 60, "whatsapp": 20 * 60, "live": 120}
_CUSTOMER_REPLY = {"async": 10 * _HOUR, "whatsapp": 60 * 60, "live": 180}
_ROUTING = {"async": 10 * 60, "whatsapp": 3 * 60, "live": 30}

_GROUPS = (
    ("general", "General"),
    ("billing", "Billing"),
    ("technical", "Technical"),
    ("escalations", "Escalations"),
)
# Agents cycle through these (tier, groups, language) slots: 7/12 tier 1, 4/12 tier 2, 1/12
# tier 3. The first four cover every group, the first eight every group in every language (but
# escalations), so even the smallest default team can route by group and language.
_AGENT_SLOTS: tuple[tuple[int, tuple[str, ...], str], ...] = (
    (1, ("general", "billing"), "es"),
    (2, ("technical",), "en"),
    (3, ("escalations", "technical"), "es"),
    (1, ("general",), "pt"),
    (2, ("billing",), "en"),
    (1, ("general", "billing"), "pt"),
    (1, ("general",), "en"),
    (2, ("technical", "general"), "pt"),
    (1, ("general", "billing"), "es"),
    (1, ("general",), "es"),
    (2, ("billing", "technical"), "es"),
    (1, ("general",), "en"),
)
# Beyond the first twelve, languages follow this cycle instead: its length (5) is coprime with
# the slots' (12), so every slot meets every language in a larger team.
_AGENT_LANGS = ("es", "en", "es", "pt", "en")
_SHIFTS = (("07:00", "15:00"), ("09:00", "17:00"), ("13:00", "21:00"), ("15:00", "23:00"))
_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_CAPACITY = {1: {"email": 12, "chat": 3}, 2: {"email": 8, "chat": 2}, 3: {"email": 5, "chat": 1}}
_GROUP_SKILLS = {
    "general": ("accounts", "shipping"),
    "billing": ("billing", "refunds"),
    "technical": ("bugs", "api"),
    "escalations": ("escalations",),
}
# Standard (winter) UTC offsets in hours; shifts are mapped to UTC with these, ignoring DST.
_TZ_OFFSETS = {
    "Europe/Madrid": 1,
    "Europe/London": 0,
    "America/New_York": -5,
    "America/Mexico_City": -6,
    "America/Sao_Paulo": -3,
}
_TIMEZONES = {
    "es": (("Europe/Madrid", 0.75), ("America/Mexico_City", 0.25)),
    "en": (("Europe/London", 0.55), ("America/New_York", 0.45)),
    "pt": (("America/Sao_Paulo", 1.0),),
}
_ORG_SHARE = {"free": 0.15, "paid": 0.85, "enterprise": 1.0}


def _staffing(weekday: int, hour: int) -> float:
    """Share of full speed at which the desk works at a Madrid local hour (night is slow)."""
    if weekday >= 5:
        return 0.35 if 9 <= hour < 18 else 0.10
    if 8 <= hour < 20:
        return 1.0
    if 6 <= hour < 8 or 20 <= hour < 23:
        return 0.5
    return 0.15


_STAFFING = tuple(_staffing(h // 24, h % 24) for h in range(168))

# -- text --------------------------------------------------------------------------------------

_NAMES = {
    "es": (
        ("María", "José", "Lucía", "Carlos", "Ana", "Javier", "Carmen", "Miguel", "Laura",
         "David", "Sofía", "Pablo", "Elena", "Andrés", "Marta", "Diego"),
        ("García", "Fernández", "López", "Martínez", "Sánchez", "Pérez", "Gómez", "Ruiz",
         "Díaz", "Moreno", "Álvarez", "Romero", "Navarro", "Torres", "Ramírez", "Castro"),
    ),
    "en": (
        ("James", "Emma", "Oliver", "Olivia", "Liam", "Ava", "Noah", "Mia", "Jack", "Grace",
         "Henry", "Chloe", "Samuel", "Ella", "George", "Lily"),
        ("Smith", "Johnson", "Brown", "Taylor", "Wilson", "Davies", "Evans", "Miller",
         "Clark", "Walker", "Wright", "Hall", "Green", "Baker", "Hughes", "Lewis"),
    ),
    "pt": (
        ("João", "Ana", "Pedro", "Mariana", "Lucas", "Beatriz", "Gabriel", "Juliana",
         "Rafael", "Camila", "Thiago", "Larissa", "Felipe", "Fernanda", "Bruno", "Letícia"),
        ("Silva", "Santos", "Oliveira", "Souza", "Pereira", "Costa", "Rodrigues", "Almeida",
         "Ferreira", "Lima", "Gomes", "Ribeiro", "Carvalho", "Araújo", "Barbosa", "Rocha"),
    ),
}  # fmt: skip
_ORGS = {
    "es": (("Distribuciones", "Talleres", "Consultores", "Logística"),
           ("Norte", "Levante", "Ibérica", "Central", "Atlántico", "Sierra", "Meseta", "Sur"),
           ("SL", "SA")),
    "en": (("Northwind", "Blue Harbor", "Greenfield", "Summit"),
           ("Traders", "Foods", "Logistics", "Studios", "Partners", "Retail", "Systems", "Labs"),
           ("Ltd", "Inc")),
    "pt": (("Comercial", "Transportes", "Mercado", "Café"),
           ("Paulista", "Aurora", "Rio", "Serra", "Litoral", "Cerrado", "Minas", "Sul"),
           ("Ltda", "SA")),
}  # fmt: skip

# (tag, subject, description) per language and topic. Placeholders: {order}, {invoice}, {amount}.
_TEMPLATES: dict[str, dict[str, tuple[tuple[str, str, str], ...]]] = {
    "es": {
        "billing": (
            ("refund", "Solicitud de reembolso del pedido {order}",
             "Hola, pagué {amount} por el pedido {order} pero lo cancelé a tiempo. ¿Podéis "
             "tramitar el reembolso, por favor?"),
            ("invoice", "No encuentro la factura {invoice}",
             "Buenos días, necesito la factura {invoice} para la contabilidad y no aparece en "
             "mi cuenta. ¿Me la podéis enviar?"),
            ("charge", "Cobro duplicado en mi tarjeta",
             "Me habéis cobrado dos veces {amount} este mes. Quiero el reembolso del cargo "
             "duplicado y una factura corregida."),
        ),
        "login": (
            ("password", "No puedo restablecer mi contraseña",
             "El enlace para restablecer la contraseña no me llega al correo. Ya lo he "
             "intentado tres veces."),
            ("2fa", "No recibo el código de verificación",
             "Al iniciar sesión me pide un código de verificación por SMS, pero nunca llega. "
             "He cambiado de móvil."),
            ("locked", "Cuenta bloqueada tras varios intentos",
             "He puesto mal la contraseña varias veces y ahora mi cuenta está bloqueada. "
             "¿Podéis desbloquearla?"),
        ),
        "bug": (
            ("error", "Error 500 al guardar los cambios",
             "Cada vez que intento guardar mi perfil aparece un error 500. Adjunto una captura "
             "de pantalla."),
            ("crash", "La aplicación se cierra al abrirla",
             "Desde la última actualización la aplicación móvil se cierra nada más abrirla."),
            ("sync", "Los datos no se sincronizan",
             "Los cambios que hago en la web no aparecen en la aplicación móvil desde ayer."),
        ),
        "shipping": (
            ("delay", "Mi pedido {order} no ha llegado",
             "Hice el pedido {order} hace diez días y el seguimiento no se actualiza. ¿Dónde "
             "está mi paquete?"),
            ("damaged", "Producto dañado en el envío",
             "El pedido {order} llegó con la caja rota y el producto dañado. ¿Cómo lo "
             "devuelvo?"),
            ("address", "Cambiar la dirección de entrega",
             "Necesito cambiar la dirección de entrega del pedido {order} antes de que salga."),
        ),
        "feature": (
            ("feature_request", "Sugerencia: exportar informes a Excel",
             "Sería muy útil poder exportar los informes a Excel directamente."),
            ("feature_request", "¿Podéis añadir un modo oscuro?",
             "Me gustaría que la aplicación tuviera modo oscuro. ¿Está previsto?"),
        ),
        "account": (
            ("cancel", "Quiero dar de baja mi cuenta",
             "Por favor, cancelad mi suscripción y dad de baja la cuenta a final de mes."),
            ("update", "Cambiar el correo de la cuenta",
             "Quiero cambiar el correo electrónico asociado a mi cuenta por uno nuevo."),
            ("users", "Añadir usuarios a nuestra cuenta",
             "Necesitamos añadir cinco usuarios más a la cuenta de la empresa. ¿Cómo lo "
             "hacemos?"),
        ),
    },
    "en": {
        "billing": (
            ("refund", "Refund request for order {order}",
             "Hi, I paid {amount} for order {order} but cancelled it in time. Could you "
             "process the refund, please?"),
            ("invoice", "Can't find invoice {invoice}",
             "Hello, I need invoice {invoice} for our accounts and it does not show up in my "
             "account. Can you send it to me?"),
            ("charge", "Charged twice on my card",
             "You charged me {amount} twice this month. I'd like a refund of the duplicate "
             "charge and a corrected invoice."),
        ),
        "login": (
            ("password", "Can't reset my password",
             "The password reset link never reaches my inbox. I have tried three times "
             "already."),
            ("2fa", "Not receiving the verification code",
             "When I log in I'm asked for an SMS verification code, but it never arrives. I "
             "changed phones recently."),
            ("locked", "Account locked after several attempts",
             "I typed the wrong password a few times and now my account is locked. Can you "
             "unlock it?"),
        ),
        "bug": (
            ("error", "Error 500 when saving changes",
             "Every time I try to save my profile I get a 500 error. Screenshot attached."),
            ("crash", "The app crashes on launch",
             "Since the last update the mobile app closes as soon as I open it."),
            ("sync", "Data is not syncing",
             "Changes I make on the website have not shown up in the mobile app since "
             "yesterday."),
        ),
        "shipping": (
            ("delay", "My order {order} hasn't arrived",
             "I placed order {order} ten days ago and the tracking has not updated. Where is "
             "my parcel?"),
            ("damaged", "Item damaged in transit",
             "Order {order} arrived with a broken box and the item damaged. How do I return "
             "it?"),
            ("address", "Change the delivery address",
             "I need to change the delivery address of order {order} before it ships."),
        ),
        "feature": (
            ("feature_request", "Suggestion: export reports to Excel",
             "It would be really useful to export reports straight to Excel."),
            ("feature_request", "Could you add a dark mode?",
             "I'd love a dark mode in the app. Is it on the roadmap?"),
        ),
        "account": (
            ("cancel", "Please close my account",
             "Please cancel my subscription and close the account at the end of the month."),
            ("update", "Change my account email",
             "I want to change the email address linked to my account to a new one."),
            ("users", "Add users to our account",
             "We need to add five more users to our company account. How do we do that?"),
        ),
    },
    "pt": {
        "billing": (
            ("refund", "Pedido de reembolso do pedido {order}",
             "Olá, paguei {amount} pelo pedido {order}, mas cancelei a tempo. Podem fazer o "
             "reembolso, por favor?"),
            ("invoice", "Não encontro a fatura {invoice}",
             "Bom dia, preciso da fatura {invoice} para a contabilidade e ela não aparece na "
             "minha conta. Podem me enviar?"),
            ("charge", "Cobrança duplicada no cartão",
             "Vocês me cobraram {amount} duas vezes este mês. Quero o reembolso da cobrança "
             "duplicada e uma fatura corrigida."),
        ),
        "login": (
            ("password", "Não consigo redefinir minha senha",
             "O link para redefinir a senha não chega no meu e-mail. Já tentei três vezes."),
            ("2fa", "Não recebo o código de verificação",
             "Ao entrar, o sistema pede um código de verificação por SMS, mas ele nunca chega. "
             "Troquei de celular."),
            ("locked", "Conta bloqueada após várias tentativas",
             "Errei a senha algumas vezes e agora minha conta está bloqueada. Podem "
             "desbloquear?"),
        ),
        "bug": (
            ("error", "Erro 500 ao salvar as alterações",
             "Toda vez que tento salvar meu perfil aparece um erro 500. Segue a captura de "
             "tela."),
            ("crash", "O aplicativo fecha ao abrir",
             "Desde a última atualização o aplicativo fecha assim que eu abro."),
            ("sync", "Os dados não sincronizam",
             "As alterações que faço no site não aparecem no aplicativo desde ontem."),
        ),
        "shipping": (
            ("delay", "Meu pedido {order} não chegou",
             "Fiz o pedido {order} há dez dias e o rastreamento não atualiza. Onde está meu "
             "pacote?"),
            ("damaged", "Produto danificado na entrega",
             "O pedido {order} chegou com a caixa rasgada e o produto danificado. Como faço a "
             "devolução?"),
            ("address", "Alterar o endereço de entrega",
             "Preciso alterar o endereço de entrega do pedido {order} antes do envio."),
        ),
        "feature": (
            ("feature_request", "Sugestão: exportar relatórios para Excel",
             "Seria muito útil exportar os relatórios direto para o Excel."),
            ("feature_request", "Vocês podem adicionar um modo escuro?",
             "Gostaria que o aplicativo tivesse modo escuro. Está nos planos?"),
        ),
        "account": (
            ("cancel", "Quero encerrar minha conta",
             "Por favor, cancelem minha assinatura e encerrem a conta no fim do mês."),
            ("update", "Alterar o e-mail da conta",
             "Quero trocar o e-mail associado à minha conta por um novo."),
            ("users", "Adicionar usuários à nossa conta",
             "Precisamos adicionar mais cinco usuários à conta da empresa. Como fazemos?"),
        ),
    },
}  # fmt: skip

_FIRST_REPLIES = {
    "es": {
        "billing": "Hola {name}, gracias por escribirnos. Estoy revisando los cobros y la factura "
        "de tu cuenta; te confirmo el reembolso en cuanto lo tenga.",
        "login": "Hola {name}, te he enviado un nuevo enlace para restablecer la contraseña. "
        "¿Puedes probar de nuevo?",
        "bug": "Hola {name}, siento las molestias. ¿Nos indicas la versión de la aplicación y el "
        "navegador que usas?",
        "shipping": "Hola {name}, he consultado con el transportista y tu pedido está en camino. "
        "Te aviso en cuanto haya novedades.",
        "feature": "Hola {name}, ¡gracias por la sugerencia! La he trasladado al equipo de "
        "producto.",
        "account": "Hola {name}, puedo ayudarte con eso. ¿Me confirmas el correo de la cuenta?",
    },
    "en": {
        "billing": "Hi {name}, thanks for getting in touch. I'm checking the charges and the "
        "invoice on your account and will confirm the refund as soon as I can.",
        "login": "Hi {name}, I've sent you a new password reset link. Could you try again?",
        "bug": "Hi {name}, sorry for the trouble. Which app version and browser are you using?",
        "shipping": "Hi {name}, I checked with the carrier and your order is on its way. I'll "
        "let you know as soon as there is news.",
        "feature": "Hi {name}, thanks for the suggestion! I've passed it on to our product team.",
        "account": "Hi {name}, happy to help with that. Can you confirm the account's email?",
    },
    "pt": {
        "billing": "Olá {name}, obrigado pelo contato. Estou verificando as cobranças e a fatura "
        "da sua conta; confirmo o reembolso assim que possível.",
        "login": "Olá {name}, enviei um novo link para redefinir a senha. Pode tentar de novo?",
        "bug": "Olá {name}, desculpe o transtorno. Qual versão do aplicativo e navegador você usa?",
        "shipping": "Olá {name}, consultei a transportadora e seu pedido está a caminho. Aviso "
        "assim que houver novidades.",
        "feature": "Olá {name}, obrigado pela sugestão! Encaminhei para a equipe de produto.",
        "account": "Olá {name}, posso ajudar com isso. Pode confirmar o e-mail da conta?",
    },
}
_AGENT_FOLLOW_UPS = {
    "es": (
        "Gracias por la información, {name}. Ya lo he revisado y debería estar solucionado.",
        "Lo he comprobado con el equipo técnico. ¿Puedes confirmar si ahora funciona?",
        "Te he enviado los detalles por correo. ¿Necesitas algo más?",
    ),
    "en": (
        "Thanks for the details, {name}. I've looked into it and it should be fixed now.",
        "I checked with our technical team. Can you confirm whether it works now?",
        "I've emailed you the details. Is there anything else you need?",
    ),
    "pt": (
        "Obrigado pelas informações, {name}. Já verifiquei e deve estar resolvido.",
        "Verifiquei com a equipe técnica. Pode confirmar se agora funciona?",
        "Enviei os detalhes por e-mail. Precisa de mais alguma coisa?",
    ),
}
_CUSTOMER_FOLLOW_UPS = {
    "es": (
        "Sigue sin funcionar, lo he vuelto a intentar.",
        "Gracias. Os adjunto la información que me pedíais.",
        "¿Hay alguna novedad sobre mi caso?",
    ),
    "en": (
        "It still doesn't work, I tried again.",
        "Thanks. Attached is the information you asked for.",
        "Any news on my case?",
    ),
    "pt": (
        "Continua sem funcionar, tentei de novo.",
        "Obrigado. Segue a informação que vocês pediram.",
        "Alguma novidade sobre o meu caso?",
    ),
}
_REOPENINGS = {
    "es": ("El problema ha vuelto a aparecer.", "Perdonad, pero sigue sin estar resuelto."),
    "en": ("The problem is back.", "Sorry, but this still isn't resolved."),
    "pt": ("O problema voltou a acontecer.", "Desculpem, mas ainda não foi resolvido."),
}
_NOTES = {
    "es": (
        "Cliente con varios tickets este mes, revisar el historial.",
        "Consultado con facturación, pendiente de confirmar.",
        "Posible incidencia conocida; enlazar con el bug abierto.",
    ),
    "en": (
        "Customer has several tickets this month, check the history.",
        "Asked the billing team, waiting for confirmation.",
        "Possibly a known issue; link to the open bug.",
    ),
    "pt": (
        "Cliente com vários tickets este mês, verificar o histórico.",
        "Consultei o financeiro, aguardando confirmação.",
        "Possível problema conhecido; vincular ao bug aberto.",
    ),
}
_ESCALATION_NOTES = {
    "es": "Escalo a {group}: necesita revisión de un nivel superior.",
    "en": "Escalating to {group}: needs a higher-tier review.",
    "pt": "Escalando para {group}: precisa de revisão de um nível superior.",
}
_ON_HOLD_REPLIES = {
    "es": "Estamos esperando la respuesta de un proveedor externo; te mantendremos informado.",
    "en": "We're waiting to hear back from an external provider; we'll keep you posted.",
    "pt": "Estamos aguardando a resposta de um fornecedor externo; manteremos você informado.",
}
_CURRENCY = {"es": "{} €", "en": "${}", "pt": "R$ {}"}

# -- small helpers -----------------------------------------------------------------------------

_MASK64 = (1 << 64) - 1


def _mix64(x: int) -> int:
    """SplitMix64's finaliser: a fast, well-spread 64-bit hash of an integer."""
    x = (x + 0x9E3779B97F4A7C15) & _MASK64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK64
    return x ^ (x >> 31)


def _unit(h: int, shift: int) -> float:
    """A uniform [0, 1) float from 16 bits of a hash."""
    return ((h >> shift) & 0xFFFF) / 65536.0


def _pick(table: Sequence[tuple[_T, float]], u: float) -> _T:
    """Pick from ``(value, weight)`` pairs with a uniform ``u`` in [0, 1); weights sum to 1."""
    for value, weight in table:
        u -= weight
        if u < 0:
            return value
    return table[-1][0]


def _ascii(text: str) -> str:
    """Lower-case ASCII for e-mail addresses: ``Álvarez`` -> ``alvarez``."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(c for c in folded.lower() if c.isalnum())


@lru_cache(maxsize=64)
def _dst_bounds(year: int) -> tuple[int, int]:
    """EU summer time for ``year``: last Sunday of March to last Sunday of October, 01:00 UTC."""

    def last_sunday(month: int) -> int:
        day = datetime(year, month, 31, 1, tzinfo=UTC)
        day -= timedelta(days=(day.weekday() - 6) % 7)
        return int(day.timestamp())

    return last_sunday(3), last_sunday(10)


def _madrid_offset(t: int) -> int:
    """Europe/Madrid's UTC offset in seconds at epoch second ``t`` (CET/CEST)."""
    # The average-year estimate can be off by a day around New Year, where it does not matter:
    # both candidate years are on winter time then.
    start, end = _dst_bounds(1970 + t // 31_556_952)
    return 2 * _HOUR if start <= t < end else _HOUR


def _week_hour(local: int) -> int:
    """Hour of the week (Monday 00:00 = 0) of a local epoch second; 1970-01-01 was a Thursday."""
    hours = local // _HOUR
    return (hours // 24 + 3) % 7 * 24 + hours % 24


_WEEK = 7 * _DAY
_FIRST_MONDAY = 4 * _DAY  # 1970-01-05
# Business seconds from Monday 00:00 to the start of each hour of the week (169 entries).
_BUSINESS_AT = tuple(itertools.accumulate((s * _HOUR for s in _STAFFING), initial=0.0))


def _advance_business(t: int, seconds: float) -> int:
    """Return ``t`` plus ``seconds`` of desk time: time passes slower when the desk is thin.

    A business second takes one wall second on a weekday daytime and several at night or on a
    weekend (see :func:`_staffing`), so a delay drawn in business time stretches realistically.
    Works on the cumulative staffing curve of a Madrid week, so any delay costs O(log 168).
    """
    local = t + _madrid_offset(t)
    week_start = local - (local - _FIRST_MONDAY) % _WEEK
    into = local - week_start
    hour = into // _HOUR
    done = _BUSINESS_AT[hour] + (into - hour * _HOUR) * _STAFFING[hour] + seconds
    weeks, rest = divmod(done, _BUSINESS_AT[-1])
    hour = min(bisect.bisect_right(_BUSINESS_AT, rest) - 1, 167)
    target = (
        week_start
        + int(weeks) * _WEEK
        + hour * _HOUR
        + (rest - _BUSINESS_AT[hour]) / _STAFFING[hour]
    )
    return t + max(0, math.ceil(target - local))


def _binomial(rng: random.Random, n: int, p: float) -> int:
    """A Binomial(n, p) draw (``random.binomialvariate`` needs Python 3.12)."""
    if n <= 0 or p <= 0.0:
        return 0
    if p >= 1.0:
        return n
    flip = p > 0.5
    q = 1.0 - p if flip else p
    if n * q < 30:
        # Inversion: walk the CDF from 0; exact and cheap while the mean is small.
        ratio = q / (1.0 - q)
        prob = (1.0 - q) ** n
        u = rng.random()
        k = 0
        while u > prob and k < n:
            u -= prob
            k += 1
            prob *= ratio * (n - k + 1) / k
    else:
        k = round(rng.gauss(n * q, math.sqrt(n * q * (1.0 - q))))
        k = min(max(k, 0), n)
    return n - k if flip else k


class _Cutoff(Exception):
    """Raised when a ticket's next event would fall after the end of the period."""


# -- people ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Agent:
    id: str
    languages: tuple[str, ...]
    groups: tuple[str, ...]
    tier: int
    record: dict[str, Any]


def _agent_count(spec: SampleSpec) -> int:
    if spec.agents is not None:
        return spec.agents
    return min(200, max(8, spec.tickets // spec.days // 12))


def _make_agents(spec: SampleSpec) -> list[_Agent]:
    rng = random.Random(f"cst-sample/{spec.seed}/agents")
    agents = []
    for i in range(_agent_count(spec)):
        tier, groups, lang = _AGENT_SLOTS[i % len(_AGENT_SLOTS)]
        if i >= len(_AGENT_SLOTS):
            lang = _AGENT_LANGS[i % len(_AGENT_LANGS)]
        languages = (lang, "en") if lang != "en" and rng.random() < 0.4 else (lang,)
        firsts, lasts = _NAMES[lang]
        first, last = firsts[int(rng.random() * len(firsts))], lasts[int(rng.random() * len(lasts))]
        zone = _pick(_TIMEZONES[lang], rng.random())
        start, end = _SHIFTS[(i + i // len(_SHIFTS)) % len(_SHIFTS)]
        days = _WEEKDAYS[2:] if i % 5 == 4 else _WEEKDAYS[:5]  # every fifth agent covers weekends
        skills = [s for g in groups for s in _GROUP_SKILLS[g]] + list(languages)
        aid = f"a{i + 1}"
        record = {
            "type": "person",
            "id": aid,
            "role": "agent",
            "name": f"{first} {last}",
            "email": f"{_ascii(first)}.{_ascii(last)}.{aid}@support.example",
            "language": lang,
            "timezone": zone,
            "groups": list(groups),
            "tier": tier,
            "skills": skills,
            "capacity": dict(_CAPACITY[tier]),
            "shift": {"days": list(days), "start": start, "end": end},
        }
        agents.append(_Agent(aid, languages, groups, tier, record))
    return agents


def _on_shift(agent: _Agent, utc_week_hour: int) -> bool:
    """Whether ``agent`` works at a UTC hour of the week (standard time; DST is ignored)."""
    shift = agent.record["shift"]
    local = (utc_week_hour + _TZ_OFFSETS[agent.record["timezone"]]) % 168
    day, hour = _WEEKDAYS[local // 24], local % 24
    start, end = int(shift["start"][:2]), int(shift["end"][:2])
    return day in shift["days"] and start <= hour < end


class _Roster:
    """Who can take a ticket: for each group, language and UTC hour of the week, the agents to
    choose from, best first: on shift and speaking the language, then speaking the language,
    then on shift, then anyone in the group (or anyone at all, for a team too small to cover
    the group)."""

    def __init__(self, agents: list[_Agent]) -> None:
        self.agents = agents
        self._table: dict[tuple[str, str, int], tuple[_Agent, ...]] = {}
        for group, _ in _GROUPS:
            members = [a for a in agents if group in a.groups] or agents
            for lang, _ in _LANGUAGES:
                for hour in range(168):
                    on = [a for a in members if _on_shift(a, hour)]
                    options = (
                        [a for a in on if lang in a.languages],
                        [a for a in members if lang in a.languages],
                        on,
                        members,
                    )
                    self._table[group, lang, hour] = tuple(next(o for o in options if o))

    def pick(self, rng: random.Random, group: str, lang: str, t: int) -> _Agent:
        choices = self._table[group, lang, _week_hour(t)]
        return choices[int(rng.random() * len(choices))]


@dataclass(frozen=True, slots=True)
class _Requester:
    number: int
    id: str
    language: str
    plan: str
    first_name: str
    hash: int


class _Customers:
    """The customer pool. Attributes derive from a hash of the customer number, so nothing but
    one "already written" byte per customer is stored."""

    def __init__(self, seed: int, size: int) -> None:
        self.size = size
        self._key = _mix64(seed & _MASK64) ^ 0x5DEECE66D
        self._written = bytearray(size + 1)

    def draw(self, rng: random.Random) -> _Requester:
        # u ** 1.6 skews towards low numbers: customer 1 writes about (pool size) ** 0.375 times
        # as often as the average customer (16x for a pool of 1,700); the median writes ~3 times.
        number = 1 + int(self.size * rng.random() ** 1.6)
        h = _mix64(self._key ^ number)
        lang = _pick(_LANGUAGES, _unit(h, 0))
        plan = _pick(_PLANS, _unit(h, 16))
        first = _NAMES[lang][0][(h >> 32) & 15]
        return _Requester(number, f"c{number}", lang, plan, first, h)

    def first_use(self, req: _Requester) -> dict[str, Any] | None:
        """The requester's ``person`` record the first time it is used, else None."""
        if self._written[req.number]:
            return None
        self._written[req.number] = 1
        h2 = _mix64(req.hash)
        last = _NAMES[req.language][1][(req.hash >> 36) & 15]
        org = None
        if _unit(h2, 0) < _ORG_SHARE[req.plan]:
            kinds, places, forms = _ORGS[req.language]
            org = f"{kinds[(h2 >> 16) & 3]} {places[(h2 >> 18) & 7]} {forms[(h2 >> 21) & 1]}"
        domain = f"{_ascii(org)}.example" if org else ("example.com", "example.net")[h2 >> 63]
        return {
            "type": "person",
            "id": req.id,
            "role": "requester",
            "name": f"{req.first_name} {last}",
            "email": f"{_ascii(req.first_name)}.{_ascii(last)}.{req.number}@{domain}",
            "organization": org,
            "plan": req.plan,
            "language": req.language,
            "timezone": _pick(_TIMEZONES[req.language], _unit(h2, 24)),
        }


# -- time --------------------------------------------------------------------------------------

_HH_MM = tuple(f"{h:02d}:{m:02d}:" for h in range(24) for m in range(60))
_SS_Z = tuple(f"{s:02d}Z" for s in range(60))


class _Timestamps:
    """ISO 8601 ``...Z`` strings from epoch seconds (hot: ~10 per ticket), caching per day.

    Consecutive events often share a second (a reply and the status change it makes), so the
    last result is kept too.
    """

    def __init__(self) -> None:
        self._days: dict[int, str] = {}
        self._last = (-1, "")

    def __call__(self, t: int) -> str:
        if t == self._last[0]:
            return self._last[1]
        day, sec = divmod(t, _DAY)
        prefix = self._days.get(day)
        if prefix is None:
            prefix = time.strftime("%Y-%m-%dT", time.gmtime(day * _DAY))
            if len(self._days) > 4096:
                self._days.clear()
            self._days[day] = prefix
        text = prefix + _HH_MM[sec // 60] + _SS_Z[sec % 60]
        self._last = (t, text)
        return text


def _arrival_weight(t: int) -> float:
    local = t + _madrid_offset(t)
    week_hour = _week_hour(local)
    return _WEEKDAY_WEIGHTS[week_hour // 24] * _HOUR_WEIGHTS[week_hour % 24]


def _arrivals(rng: random.Random, tickets: int, start: int, end: int) -> Iterator[int]:
    """Exactly ``tickets`` arrival times in ``[start, end)``, in order.

    The count per hour is a multinomial draw (a chain of binomials) over the hourly weights,
    i.e. a Poisson process conditioned on the total; within an hour, times are uniform. Only one
    hour's arrivals are held at a time.
    """
    hours = (end - start + _HOUR - 1) // _HOUR
    total = math.fsum(_arrival_weight(start + h * _HOUR) for h in range(hours))
    remaining = tickets
    for h in range(hours):
        lo = start + h * _HOUR
        weight = _arrival_weight(lo)
        p = weight / total if total > 0 else 1.0
        count = remaining if h == hours - 1 else _binomial(rng, remaining, p)
        total -= weight
        remaining -= count
        width = min(lo + _HOUR, end) - lo
        yield from sorted(lo + int(rng.random() * width) for _ in range(count))
        if remaining == 0:
            return


# -- one ticket --------------------------------------------------------------------------------

# Plain-string forms of the model's enums, used in the hot loop (cheaper than enum members).
_NEW, _OPEN, _PENDING, _ON_HOLD, _SOLVED, _CLOSED = (
    s.value
    for s in (Status.NEW, Status.OPEN, Status.PENDING, Status.ON_HOLD, Status.SOLVED, Status.CLOSED)
)
_REQUESTER, _AGENT, _SYSTEM = Role.REQUESTER.value, Role.AGENT.value, Role.SYSTEM.value
_CREATED, _COMMENT = EventKind.CREATED.value, EventKind.COMMENT.value
_STATUS_CHANGE, _PRIORITY_CHANGE = EventKind.STATUS_CHANGE.value, EventKind.PRIORITY_CHANGE.value
_ASSIGNMENT, _GROUP_CHANGE = EventKind.ASSIGNMENT.value, EventKind.GROUP_CHANGE.value
_TAGS_CHANGE = EventKind.TAGS_CHANGE.value


class _Ticket:
    """The state of one ticket while its history is simulated.

    Every event's time goes through :meth:`_at`, which raises :class:`_Cutoff` instead of recording
    an event after the end of the period; the fields therefore always describe the ticket as of
    its last recorded event.
    """

    __slots__ = ("assignee", "end", "events", "group", "iso", "priority", "solved_at", "status",
                 "t", "tags", "tid")  # fmt: skip

    def __init__(self, tid: str, created: int, end: int, iso: _Timestamps) -> None:
        self.tid = tid
        self.end = end
        self.iso = iso
        self.t = created  # time of the last event: events never go back in time
        self.events: list[dict[str, Any]] = []
        self.status = _NEW
        self.assignee: _Agent | None = None
        self.group = ""
        self.priority = _NORMAL
        self.tags: list[str] = []
        self.solved_at: int | None = None

    @property
    def owner(self) -> str | None:
        return self.assignee.id if self.assignee else None

    def _at(self, at: int) -> int:
        """The time of the next event: never before the last one, never after the end."""
        at = max(at, self.t)
        if at > self.end:
            raise _Cutoff
        self.t = at
        return at

    def message(
        self, at: int, author: str | None, role: str, body: str, public: bool, kind: str = _COMMENT
    ) -> None:
        at = self._at(at)
        self.events.append(
            {
                "id": f"{self.tid}-{len(self.events) + 1}",
                "kind": kind,
                "at": self.iso(at),
                "author": author,
                "role": role,
                "public": public,
                "body": body,
            }
        )

    def change(
        self, at: int, kind: str, author: str | None, role: str, old: str | None, new: str
    ) -> None:
        at = self._at(at)
        self.events.append(
            {
                "id": f"{self.tid}-{len(self.events) + 1}",
                "kind": kind,
                "at": self.iso(at),
                "author": author,
                "role": role,
                "old": old,
                "new": new,
            }
        )

    def set_status(self, at: int, new: str, author: str | None, role: str) -> None:
        if new != self.status:
            self.change(at, _STATUS_CHANGE, author, role, self.status, new)
            self.status = new
            if new == _SOLVED:
                self.solved_at = self.t

    def assign(self, at: int, agent: _Agent, author: str | None, role: str) -> None:
        self.change(at, _ASSIGNMENT, author, role, self.owner, agent.id)
        self.assignee = agent


@dataclass(frozen=True, slots=True)
class _Context:
    """What a ticket's simulation needs to know beyond its own dice."""

    rng: random.Random
    roster: _Roster
    end: int
    iso: _Timestamps
    surveys: random.Random | None = None


def _speed(channel: str) -> str:
    if channel in _LIVE_CHANNELS:
        return "live"
    return "whatsapp" if channel == Channel.WHATSAPP.value else "async"


def _lognormal(rng: random.Random, median: float, sigma: float = 1.0) -> float:
    return median * math.exp(sigma * rng.gauss(0.0, 1.0))


def _choice(rng: random.Random, options: Sequence[str]) -> str:
    # Not rng.choice: this keeps to rng.random(), whose output is stable across Python versions.
    return options[int(rng.random() * len(options))]


def _details(rng: random.Random, lang: str) -> dict[str, str]:
    """Values for a template's ``{order}``, ``{invoice}`` and ``{amount}``, in local format."""
    cents = int(rng.random() * 30000) + 990
    amount = f"{cents // 100}.{cents % 100:02d}"
    if lang != "en":
        amount = amount.replace(".", ",")
    return {
        "order": f"#{100000 + int(rng.random() * 900000)}",
        "invoice": f"F-{2020 + int(rng.random() * 7)}-{int(rng.random() * 99999):05d}",
        "amount": _CURRENCY[lang].format(amount),
    }


class _Simulation:
    """Plays out one ticket's life: routing, replies, back-and-forth, notes, holds,
    escalation, solving, reopening and closing. Stops (via _Cutoff) at the end of the period."""

    def __init__(self, ctx: _Context, tk: _Ticket, req: _Requester, channel: str) -> None:
        self.ctx = ctx
        self.rng = ctx.rng
        self.tk = tk
        self.req = req
        self.lang = req.language
        self.speed = _speed(channel)

    def run(self, topic: str) -> None:
        rng, tk = self.rng, self.tk
        self.route()
        at = self.agent_delay(_FIRST_REPLY)
        if rng.random() < _P_PRIORITY_TWEAK:
            self.tweak_priority(at)
        self.agent_reply(at, _FIRST_REPLIES[self.lang][topic].format(name=self.req.first_name))
        rounds = _pick(_ROUNDS_LIVE if self.speed == "live" else _ROUNDS_ASYNC, rng.random())
        note_at = self.some_round(rounds, _P_INTERNAL_NOTE)
        hold_at = self.some_round(rounds, _P_ON_HOLD)
        escalate_at = self.some_round(rounds, _P_ESCALATE)
        for r in range(rounds + 1):
            if r == note_at:
                self.internal_note()
            if r == escalate_at:
                self.escalate()
            if r == hold_at:
                self.hold()
            if r < rounds:
                self.exchange()
        self.solve()
        if rng.random() < _P_REOPEN:
            self.reopen()
        solved_at = tk.solved_at if tk.solved_at is not None else tk.t
        tk.set_status(solved_at + _CLOSE_AFTER, _CLOSED, None, _SYSTEM)

    def some_round(self, rounds: int, probability: float) -> int:
        """With ``probability``, a round in ``0..rounds`` for something to happen in; else -1."""
        if self.rng.random() < probability:
            return int(self.rng.random() * (rounds + 1))
        return -1

    def agent_delay(self, medians: dict[str, int]) -> int:
        """When the assignee next answers: a log-normal delay in business time from now."""
        factor = _PRIORITY_SPEED[self.tk.priority] * (0.7 if self.req.plan == "enterprise" else 1)
        delay = _lognormal(self.rng, medians[self.speed] * factor, 0.9)
        return _advance_business(self.tk.t, delay)

    def agent_reply(self, at: int, text: str) -> None:
        self.tk.message(at, self.tk.owner, _AGENT, text, True)

    def follow_up(self) -> None:
        """The assignee answers again after a (business-time) delay."""
        text = _choice(self.rng, _AGENT_FOLLOW_UPS[self.lang]).format(name=self.req.first_name)
        self.agent_reply(self.agent_delay(_NEXT_REPLY), text)

    def customer_writes(self, texts: Sequence[str], delay: float) -> None:
        """The requester writes after ``delay`` wall-clock seconds; the ticket (re)opens."""
        at = self.tk.t + int(delay)
        self.tk.message(at, self.req.id, _REQUESTER, _choice(self.rng, texts), True)
        self.tk.set_status(at, _OPEN, None, _SYSTEM)

    def route(self) -> None:
        """Triggers assign the ticket to an agent of its group, and it opens."""
        tk = self.tk
        at = _advance_business(tk.t, _lognormal(self.rng, _ROUTING[self.speed], 0.8))
        tk.assign(at, self.ctx.roster.pick(self.rng, tk.group, self.lang, at), None, _SYSTEM)
        tk.set_status(at, _OPEN, None, _SYSTEM)

    def tweak_priority(self, at: int) -> None:
        """The agent moves the priority one step (up, or down half the time when it can)."""
        tk = self.tk
        rank = _PRIORITY_ORDER.index(tk.priority)
        rank = rank + 1 if rank == 0 or (rank < 3 and self.rng.random() < 0.5) else rank - 1
        new = _PRIORITY_ORDER[rank]
        tk.change(at, _PRIORITY_CHANGE, tk.owner, _AGENT, tk.priority, new)
        tk.priority = new

    def exchange(self) -> None:
        """One round of back-and-forth: maybe pending, the customer writes, the agent answers."""
        if self.rng.random() < _P_PENDING_AFTER_REPLY:
            self.tk.set_status(self.tk.t, _PENDING, self.tk.owner, _AGENT)
        delay = _lognormal(self.rng, _CUSTOMER_REPLY[self.speed], 1.1)
        self.customer_writes(_CUSTOMER_FOLLOW_UPS[self.lang], delay)
        self.follow_up()

    def internal_note(self) -> None:
        tk = self.tk
        at = tk.t + int(_lognormal(self.rng, 15 * 60, 0.8))
        tk.message(at, tk.owner, _AGENT, _choice(self.rng, _NOTES[self.lang]), False)

    def hold(self) -> None:
        """Waiting on a third party: on hold for about a day, then an update and an answer."""
        tk = self.tk
        tk.set_status(tk.t, _ON_HOLD, tk.owner, _AGENT)
        back = tk.t + int(_lognormal(self.rng, _DAY, 0.7))
        tk.set_status(back, _OPEN, tk.owner, _AGENT)
        self.agent_reply(back, _ON_HOLD_REPLIES[self.lang])
        self.follow_up()

    def escalate(self) -> None:
        """Move up a tier: a note, the group and the assignee change, a tag, maybe urgency."""
        tk, rng = self.tk, self.rng
        new_group = _ESCALATE_TO.get(tk.group, "escalations")
        by = tk.owner
        at = tk.t + int(_lognormal(rng, 20 * 60, 0.8))
        tk.message(at, by, _AGENT, _ESCALATION_NOTES[self.lang].format(group=new_group), False)
        tk.change(at, _GROUP_CHANGE, by, _AGENT, tk.group, new_group)
        tk.group = new_group
        tk.assign(at, self.ctx.roster.pick(rng, new_group, self.lang, at), by, _AGENT)
        tags = [*tk.tags, "escalated"]
        tk.change(at, _TAGS_CHANGE, by, _AGENT, " ".join(tk.tags), " ".join(tags))
        tk.tags = tags
        if tk.priority != _URGENT and rng.random() < 0.5:
            self.tweak_priority(at)
        self.follow_up()

    def solve(self) -> None:
        """Usually the agent solves with the last answer; sometimes the customer goes silent
        and the pending ticket is solved by the system a few days later."""
        tk = self.tk
        if self.speed != "live" and self.rng.random() < _P_AUTO_SOLVE:
            tk.set_status(tk.t, _PENDING, tk.owner, _AGENT)
            tk.set_status(tk.t + _AUTO_SOLVE_AFTER, _SOLVED, None, _SYSTEM)
        else:
            tk.set_status(tk.t + int(self.rng.random() * 120), _SOLVED, tk.owner, _AGENT)

    def reopen(self) -> None:
        """The customer writes back before the ticket closes; the agent answers and re-solves."""
        # Reopening is only possible while solved, so the delay stays under the closing delay.
        delay = min(_lognormal(self.rng, 18 * _HOUR, 0.9), _CLOSE_AFTER - 2 * _HOUR)
        self.customer_writes(_REOPENINGS[self.lang], delay)
        self.follow_up()
        self.tk.set_status(self.tk.t, _SOLVED, self.tk.owner, _AGENT)


def _ticket_record(ctx: _Context, tid: str, created: int, req: _Requester) -> dict[str, Any]:
    """Simulate one ticket and return its ``ticket`` line."""
    rng = ctx.rng
    topic = _pick(_TOPICS, rng.random())
    templates = _TEMPLATES[req.language][topic]
    tag, subject, description = templates[int(rng.random() * len(templates))]
    details = _details(rng, req.language)  # the same order number in subject and description
    subject, description = subject.format(**details), description.format(**details)
    channel = _pick(_CHANNELS, rng.random())
    product = _choice(rng, _TOPIC_PRODUCTS[topic])

    tk = _Ticket(tid, created, ctx.end, ctx.iso)
    tk.group = _TOPIC_GROUP[topic]
    tk.priority = _pick(_PRIORITIES[req.plan], rng.random())
    tk.tags = [topic, tag, req.language]
    if req.plan == "enterprise":
        tk.tags.append("vip")
    tk.message(created, req.id, _REQUESTER, description, True, kind=_CREATED)
    with contextlib.suppress(_Cutoff):
        _Simulation(ctx, tk, req, channel).run(topic)
    if ctx.surveys is not None:
        _survey_answers(ctx.surveys, tk, req, ctx.end, ctx.iso)

    resolved = tk.status in (_SOLVED, _CLOSED) and tk.solved_at is not None
    return {
        "type": "ticket",
        "id": tid,
        "subject": subject,
        "description": description,
        "status": tk.status,
        "priority": tk.priority,
        "channel": channel,
        "requester": req.id,
        "assignee": tk.owner,
        "group": tk.group,
        "tags": tk.tags,
        "created_at": tk.events[0]["at"],
        "updated_at": tk.events[-1]["at"],
        "solved_at": ctx.iso(tk.solved_at) if resolved and tk.solved_at is not None else None,
        "language": req.language,
        "custom_fields": {"product": product},
        "events": tk.events,
    }


# -- survey answers (SampleSpec.survey_answers) ------------------------------------------------

_SURVEY_DELAY = 24 * _HOUR  # the survey goes out a day after the solve, as quickstart's does
_P_CSAT_ANSWER = 0.3  # share of solved tickets whose requester answers the CSAT survey
_P_NPS_ANSWER = 0.35  # of those, the share who also answer the NPS question
# CSAT 1-5 for a smooth ticket; each bad experience moves weight towards the low scores.
_CSAT_SCORES = ((5, 0.56), (4, 0.24), (3, 0.09), (2, 0.05), (1, 0.06))
_CSAT_UNHAPPY = ((5, 0.22), (4, 0.22), (3, 0.2), (2, 0.16), (1, 0.2))
_NPS_BY_CSAT = {5: (8, 10), 4: (7, 9), 3: (4, 8), 2: (1, 6), 1: (0, 4)}


def _survey_answers(
    rng: random.Random, tk: _Ticket, req: _Requester, end: int, iso: _Timestamps
) -> None:
    """Some requesters answer a CSAT survey (and some an NPS question) after the last solve:
    ``survey_answered`` events whose ``data`` holds the survey's kind and score, as
    ``cst survey serve`` records them. A reopened or escalated ticket scores lower."""
    if tk.solved_at is None or rng.random() >= _P_CSAT_ANSWER:
        return
    at = tk.solved_at + _SURVEY_DELAY + int(_lognormal(rng, 3 * _HOUR, 1.2))
    if at > end:
        return
    reopened = sum(1 for e in tk.events if e.get("new") == _SOLVED) > 1
    unhappy = reopened or "escalated" in tk.tags or tk.priority == _URGENT
    score = _pick(_CSAT_UNHAPPY if unhappy else _CSAT_SCORES, rng.random())
    answers = [("csat", score)]
    if rng.random() < _P_NPS_ANSWER:
        low, high = _NPS_BY_CSAT[score]
        answers.append(("nps", low + int(rng.random() * (high - low + 1))))
    for kind, value in answers:
        event = {
            "id": f"{tk.tid}-{kind}",
            "kind": EventKind.SURVEY_ANSWERED.value,
            "at": iso(at),
            "author": req.id,
            "role": _REQUESTER,
            "data": {"survey": f"sample_{kind}", "kind": kind, "score": value},
        }
        # In time order among the ticket's events (ISO 8601 UTC strings sort as times).
        stamps = [e["at"] for e in tk.events]
        tk.events.insert(bisect.bisect_right(stamps, event["at"]), event)


# -- output ------------------------------------------------------------------------------------


def _check(spec: SampleSpec) -> int:
    """Validate ``spec`` and return the end of the period in epoch seconds."""
    if spec.tickets < 1:
        raise UsageError(f"--tickets must be at least 1 (got {spec.tickets})")
    if spec.days < 1:
        raise UsageError(f"--days must be at least 1 (got {spec.days})")
    if spec.agents is not None and spec.agents < 1:
        raise UsageError(f"agents must be at least 1 (got {spec.agents})")
    end = spec.end
    if end is None:
        end = now().replace(hour=0, minute=0, second=0, microsecond=0)
    elif end.tzinfo is None:
        raise UsageError(f"the end of the period needs a time zone: {end.isoformat()}")
    return math.floor(end.timestamp())


class _Writer:
    """Writes one JSON object per line and keeps the counts."""

    def __init__(self, out: IO[str]) -> None:
        self.out = out
        self.bytes = 0
        self._dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode

    def __call__(self, record: dict[str, Any]) -> None:
        line = self._dumps(record) + "\n"
        self.out.write(line)
        self.bytes += len(line) if line.isascii() else len(line.encode())


def generate(
    spec: SampleSpec, out: IO[str], on_progress: Callable[[int], None] | None = None
) -> SampleStats:
    """Write the sample helpdesk described by ``spec`` to ``out``, a text stream.

    Lines come in the order a reader needs them: groups, agents, then tickets in ``created_at``
    order, each preceded by its requester's ``person`` line the first time that customer
    appears. ``on_progress(tickets written)`` is called every 1,000 tickets.
    """
    end = _check(spec)
    start = end - spec.days * _DAY
    write = _Writer(out)
    for gid, name in _GROUPS:
        write({"type": "group", "id": gid, "name": name})
    agents = _make_agents(spec)
    for agent in agents:
        write(agent.record)
    rng = random.Random(f"cst-sample/{spec.seed}/tickets")
    surveys = random.Random(f"cst-sample/{spec.seed}/surveys") if spec.survey_answers else None
    ctx = _Context(rng, _Roster(agents), end, _Timestamps(), surveys)
    customers = _Customers(spec.seed, max(1, spec.tickets // 3))
    people, events = len(agents), 0
    for n, created in enumerate(_arrivals(rng, spec.tickets, start, end), start=1):
        req = customers.draw(rng)
        person = customers.first_use(req)
        if person is not None:
            write(person)
            people += 1
        record = _ticket_record(ctx, str(n), created, req)
        events += len(record["events"])
        write(record)
        if on_progress is not None and n % 1000 == 0:
            on_progress(n)
    return SampleStats(spec.tickets, events, people, len(_GROUPS), write.bytes)


def generate_file(
    spec: SampleSpec, path: Path, on_progress: Callable[[int], None] | None = None
) -> SampleStats:
    """Write the sample to ``path`` atomically.

    The data goes to a temporary file in the same directory, which is flushed, synced and then
    renamed over ``path``, so a crash or an error leaves either the old file or the complete new
    one, never half of it (and no temporary file behind).
    """
    path = Path(path)
    _check(spec)  # fail before creating anything
    tmp = _create_temp(path)
    try:
        with open(tmp, "w", encoding="utf-8", newline="\n", buffering=1 << 20) as fh:
            stats = generate(spec, fh, on_progress)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _sync_dir(path.parent)
    return stats


def _create_temp(path: Path) -> Path:
    """Create an empty, uniquely named temporary file next to ``path`` (mode 0666 & ~umask)."""
    for _ in range(100):
        tmp = path.with_name(f".{path.name}.{os.urandom(6).hex()}.tmp")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            continue
        os.close(fd)
        return tmp
    raise OSError(f"could not create a temporary file next to {path}")


def _sync_dir(directory: Path) -> None:
    """Make the rename durable; best effort (not every platform can open a directory)."""
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
