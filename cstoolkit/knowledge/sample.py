"""The sample knowledge base ``cst quickstart`` writes into its workspace (``kb/``): a few
articles in Spanish, English and Portuguese on what the sample desk's customers ask most
(password resets, verification codes, refunds, late orders). Data only."""

from __future__ import annotations

from pathlib import Path

BASE_URL = "https://help.example.com"

ARTICLES: dict[str, str] = {
    "en/reset-password.md": """---
title: Can't reset your password? The reset link
section: Login
labels: [login, password]
---
If the password reset link never reaches your inbox, check your spam folder first. Then ask
for a new reset link on the login page: each link works once and expires after one hour, so
only the newest one works. Still nothing after three tries? Reply and we will reset it for you.
""",
    "es/restablecer-contrasena.md": """---
title: No puedo restablecer mi contraseña
section: Acceso
labels: [login, password]
---
Si el enlace para restablecer la contraseña no te llega al correo, revisa primero la carpeta
de spam. Después pide un enlace nuevo en la página de inicio de sesión: cada enlace sirve una
vez y caduca en una hora, así que solo funciona el último. ¿Lo has intentado tres veces?
Responde y la restablecemos nosotros.
""",
    "pt/redefinir-senha.md": """---
title: Não consigo redefinir minha senha
section: Acesso
labels: [login, password]
---
Se o link para redefinir a senha não chega ao seu e-mail, confira primeiro a pasta de spam.
Depois peça um novo link na página de login: cada link funciona uma vez e expira em uma hora,
então só o mais recente funciona. Já tentou três vezes? Responda e nós redefinimos para você.
""",
    "en/verification-code.md": """---
title: Not receiving the SMS verification code
section: Login
labels: [login, 2fa]
---
When you log in we send a verification code by SMS. If you changed phones, update your phone
number under Account > Security from a device where you are still logged in; the code then
arrives within a minute. No device logged in? Reply and we will verify you another way.
""",
    "es/codigo-verificacion.md": """---
title: No recibo el código de verificación por SMS
section: Acceso
labels: [login, 2fa]
---
Al iniciar sesión te enviamos un código de verificación por SMS. Si has cambiado de móvil,
actualiza tu número en Cuenta > Seguridad desde un dispositivo con la sesión iniciada; el
código llegará en un minuto. ¿No tienes ninguno? Responde y te verificamos de otra forma.
""",
    "pt/codigo-verificacao.md": """---
title: Não recebo o código de verificação por SMS
section: Acesso
labels: [login, 2fa]
---
Ao entrar enviamos um código de verificação por SMS. Se você trocou de celular, atualize seu
número em Conta > Segurança em um dispositivo com a sessão aberta; o código chega em um
minuto. Não tem nenhum? Responda e verificamos você de outra forma.
""",
    "en/refund-cancelled-order.md": """---
title: Refund for a cancelled order or a duplicate charge
section: Billing
labels: [billing, refund]
---
Paid for an order and cancelled it in time? The refund is processed automatically within two
business days and reaches your card 5 to 10 days later. Charged twice on your card? The
duplicate charge is refunded the same way, and the corrected invoice appears in your account.
""",
    "es/reembolso-pedido-cancelado.md": """---
title: Solicitud de reembolso de un pedido cancelado
section: Facturación
labels: [billing, refund]
---
¿Pagaste un pedido y lo cancelaste a tiempo? No hace falta solicitar nada: el reembolso se
tramita solo en dos días laborables y llega a tu tarjeta entre 5 y 10 días después. Un cobro
duplicado se reembolsa igual; la factura corregida aparece en tu cuenta.
""",
    "pt/reembolso-pedido-cancelado.md": """---
title: Pedido de reembolso de um pedido cancelado
section: Faturamento
labels: [billing, refund]
---
Pagou um pedido e cancelou a tempo? Não é preciso pedir nada: o reembolso é processado
automaticamente em dois dias úteis e chega ao seu cartão de 5 a 10 dias depois. Uma cobrança
duplicada é reembolsada da mesma forma.
""",
    "en/order-not-arrived.md": """---
title: My order hasn't arrived
section: Shipping
labels: [shipping, delay]
---
Orders ship within two days and tracking can take 48 hours to update. If your order has not
arrived ten days after you placed it, reply with the order number and we will trace the parcel.
""",
    "es/pedido-no-llega.md": """---
title: Mi pedido no ha llegado
section: Envíos
labels: [shipping, delay]
---
Los pedidos salen en dos días y el seguimiento puede tardar 48 horas en actualizarse. Si tu
pedido no ha llegado diez días después de hacerlo, responde con el número de pedido y
localizamos el paquete.
""",
    "pt/pedido-nao-chegou.md": """---
title: Meu pedido não chegou
section: Envios
labels: [shipping, delay]
---
Os pedidos saem em dois dias e o rastreamento pode levar 48 horas para atualizar. Se o seu
pedido não chegou dez dias depois, responda com o número do pedido e localizamos o pacote.
""",
}


def write(folder: Path) -> int:
    """Write the sample articles into ``folder``; existing files are kept (they may have been
    edited). Returns how many files were written."""
    written = 0
    for rel, text in ARTICLES.items():
        path = folder / rel
        if path.exists():
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, "utf-8")
        written += 1
    return written


#: Where the sample articles go in the workspace, and the shipped recipe that answers from them
#: (``recipes/first-line.yaml``, copied into the workspace with the other recipes).
FOLDER = "kb"
RECIPE_NAME = "first-line.yaml"
