"""The sample desk's vocabulary: arrival, channel, language, plan and priority distributions, the
team's groups, shifts and skills, and the texts customers and agents write (Spanish, English,
Portuguese). Data only: :mod:`cstoolkit.synthetic.simulation` draws from it.
"""

from __future__ import annotations

from typing import TypeVar

from cstoolkit.model import Channel, Priority

T = TypeVar("T")

HOUR = 3600
DAY = 86400
CLOSE_AFTER = 4 * DAY  # a solved ticket is closed by the system this long after its last solve
AUTO_SOLVE_AFTER = 3 * DAY  # a pending ticket the customer never answers is solved by system


# -- distributions -----------------------------------------------------------------------------

# Relative arrival rate by hour of the day, Europe/Madrid local time: morning and afternoon peaks
# (9-12, 14-17), a lunch dip and a quiet night.
HOUR_WEIGHTS = (
    0.15, 0.10, 0.08, 0.07, 0.08, 0.12, 0.25, 0.50, 0.85, 1.30, 1.45, 1.40,
    1.15, 0.90, 1.20, 1.35, 1.30, 1.10, 0.85, 0.70, 0.55, 0.45, 0.35, 0.22,
)  # fmt: skip
# Relative arrival rate by weekday, Monday first: weekends get about a third of a weekday.
WEEKDAY_WEIGHTS = (1.10, 1.05, 1.00, 1.00, 0.90, 0.35, 0.30)

CHANNELS = (
    (Channel.EMAIL.value, 0.40),
    (Channel.CHAT.value, 0.20),
    (Channel.WHATSAPP.value, 0.15),
    (Channel.WEB.value, 0.12),
    (Channel.PHONE.value, 0.08),
    (Channel.SOCIAL.value, 0.05),
)
LIVE_CHANNELS = frozenset({Channel.CHAT.value, Channel.PHONE.value})
LANGUAGES = (("es", 0.45), ("en", 0.35), ("pt", 0.20))
PLANS = (("free", 0.60), ("paid", 0.32), ("enterprise", 0.08))
LOW, NORMAL, HIGH, URGENT = (p.value for p in Priority)
PRIORITY_ORDER = (LOW, NORMAL, HIGH, URGENT)
# Priority by plan; weighted by the plan mix this gives low 20%, normal 55%, high 18%, urgent 7%.
PRIORITIES = {
    "free": ((LOW, 0.24), (NORMAL, 0.58), (HIGH, 0.14), (URGENT, 0.04)),
    "paid": ((LOW, 0.17), (NORMAL, 0.54), (HIGH, 0.21), (URGENT, 0.08)),
    "enterprise": ((LOW, 0.05), (NORMAL, 0.40), (HIGH, 0.33), (URGENT, 0.22)),
}
# How much faster (<1) or slower (>1) agents answer, by priority.
PRIORITY_SPEED = {LOW: 1.25, NORMAL: 1.0, HIGH: 0.75, URGENT: 0.5}
TOPICS = (
    ("billing", 0.26),
    ("login", 0.18),
    ("bug", 0.20),
    ("shipping", 0.14),
    ("feature", 0.07),
    ("account", 0.15),
)
TOPIC_GROUP = {
    "billing": "billing",
    "login": "general",
    "bug": "technical",
    "shipping": "general",
    "feature": "general",
    "account": "general",
}
TOPIC_PRODUCTS = {
    "billing": ("subscription", "store"),
    "login": ("web app", "mobile app"),
    "bug": ("web app", "mobile app", "api"),
    "shipping": ("store",),
    "feature": ("web app", "mobile app", "api"),
    "account": ("subscription", "web app"),
}
ESCALATE_TO = {"general": "technical", "billing": "escalations", "technical": "escalations"}

# Lifecycle probabilities (per ticket, before the end-of-period cut-off).
P_INTERNAL_NOTE = 0.23  # plus the note every escalation carries: ~25% in all
P_ON_HOLD = 0.05
P_REOPEN = 0.08
P_ESCALATE = 0.03
P_PRIORITY_TWEAK = 0.05
P_PENDING_AFTER_REPLY = 0.6
P_AUTO_SOLVE = 0.08  # the customer goes silent and the pending ticket is solved by the system
ROUNDS_ASYNC = ((0, 0.40), (1, 0.33), (2, 0.17), (3, 0.07), (4, 0.03))
ROUNDS_LIVE = ((0, 0.25), (1, 0.35), (2, 0.25), (3, 0.15))

# Median delays in seconds (log-normal). Agent delays are in *business* seconds (see
# advance_business); customer delays are wall-clock.
FIRST_REPLY = {"async": 2 * HOUR, "whatsapp": 15 * 60, "live": 90}
NEXT_REPLY = {"async": 90 * 60, "whatsapp": 20 * 60, "live": 120}
CUSTOMER_REPLY = {"async": 10 * HOUR, "whatsapp": 60 * 60, "live": 180}
ROUTING = {"async": 10 * 60, "whatsapp": 3 * 60, "live": 30}

GROUPS = (
    ("general", "General"),
    ("billing", "Billing"),
    ("technical", "Technical"),
    ("escalations", "Escalations"),
)
# Agents cycle through these (tier, groups, language) slots: 7/12 tier 1, 4/12 tier 2, 1/12
# tier 3. The first four cover every group, the first eight every group in every language (but
# escalations), so even the smallest default team can route by group and language.
AGENT_SLOTS: tuple[tuple[int, tuple[str, ...], str], ...] = (
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
AGENT_LANGS = ("es", "en", "es", "pt", "en")
SHIFTS = (("07:00", "15:00"), ("09:00", "17:00"), ("13:00", "21:00"), ("15:00", "23:00"))
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
CAPACITY = {1: {"email": 12, "chat": 3}, 2: {"email": 8, "chat": 2}, 3: {"email": 5, "chat": 1}}
GROUP_SKILLS = {
    "general": ("accounts", "shipping"),
    "billing": ("billing", "refunds"),
    "technical": ("bugs", "api"),
    "escalations": ("escalations",),
}
# Standard (winter) UTC offsets in hours; shifts are mapped to UTC with these, ignoring DST.
TZ_OFFSETS = {
    "Europe/Madrid": 1,
    "Europe/London": 0,
    "America/New_York": -5,
    "America/Mexico_City": -6,
    "America/Sao_Paulo": -3,
}
TIMEZONES = {
    "es": (("Europe/Madrid", 0.75), ("America/Mexico_City", 0.25)),
    "en": (("Europe/London", 0.55), ("America/New_York", 0.45)),
    "pt": (("America/Sao_Paulo", 1.0),),
}
ORG_SHARE = {"free": 0.15, "paid": 0.85, "enterprise": 1.0}


def staffing(weekday: int, hour: int) -> float:
    """Share of full speed at which the desk works at a Madrid local hour (night is slow)."""
    if weekday >= 5:
        return 0.35 if 9 <= hour < 18 else 0.10
    if 8 <= hour < 20:
        return 1.0
    if 6 <= hour < 8 or 20 <= hour < 23:
        return 0.5
    return 0.15


STAFFING = tuple(staffing(h // 24, h % 24) for h in range(168))

# -- text --------------------------------------------------------------------------------------

NAMES = {
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
ORGS = {
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
TEMPLATES: dict[str, dict[str, tuple[tuple[str, str, str], ...]]] = {
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

FIRST_REPLIES = {
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
AGENT_FOLLOW_UPS = {
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
CUSTOMER_FOLLOW_UPS = {
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
REOPENINGS = {
    "es": ("El problema ha vuelto a aparecer.", "Perdonad, pero sigue sin estar resuelto."),
    "en": ("The problem is back.", "Sorry, but this still isn't resolved."),
    "pt": ("O problema voltou a acontecer.", "Desculpem, mas ainda não foi resolvido."),
}
NOTES = {
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
ESCALATION_NOTES = {
    "es": "Escalo a {group}: necesita revisión de un nivel superior.",
    "en": "Escalating to {group}: needs a higher-tier review.",
    "pt": "Escalando para {group}: precisa de revisão de um nível superior.",
}
ON_HOLD_REPLIES = {
    "es": "Estamos esperando la respuesta de un proveedor externo; te mantendremos informado.",
    "en": "We're waiting to hear back from an external provider; we'll keep you posted.",
    "pt": "Estamos aguardando a resposta de um fornecedor externo; manteremos você informado.",
}
CURRENCY = {"es": "{} €", "en": "${}", "pt": "R$ {}"}
