"""A small trilingual knowledge base the knowledge tests share (files and a store)."""

from __future__ import annotations

from pathlib import Path

ARTICLES = {
    "en/reset-password.md": """---
title: Reset your password
section: Login
labels: [password, login]
url: https://help.example.com/reset-password
---
If the password reset link never reaches your inbox, check the spam folder, then ask for a
new reset link on the login page. Reset links expire after one hour.
""",
    "en/refund.md": """# Refund for a cancelled order
You can request a refund of a cancelled order from your account page. Refunds reach your
card within 5 to 10 days. A duplicate charge is refunded automatically.
""",
    "en/verification-code.md": """---
title: The SMS verification code does not arrive
section: Login
---
When you log in we send a verification code by SMS. If you changed phones, update your number
in the account settings; the code arrives within a minute.
""",
    "en/delivery.md": """---
title: Where is my order?
section: Shipping
---
Orders ship within two days. Tracking updates can take 48 hours; if your parcel has not
arrived after ten days, tell us the order number and we will find it.
""",
    "es/reembolso.md": """---
title: Cómo solicitar un reembolso
section: Facturación
labels: [refund]
---
Puedes solicitar el reembolso de un pedido cancelado desde tu cuenta. El reembolso llega a
tu tarjeta en 5 a 10 días. Un cobro duplicado se reembolsa solo.
""",
    "es/contrasena.md": """---
title: Restablecer la contraseña
section: Acceso
---
Si el enlace para restablecer la contraseña no llega a tu correo, revisa la carpeta de spam
y pide un enlace nuevo en la página de inicio de sesión.
""",
    "es/envio.md": """---
title: ¿Dónde está mi pedido?
section: Envíos
---
Los pedidos salen en dos días. El seguimiento puede tardar 48 horas en actualizarse; si tu
paquete no ha llegado en diez días, escríbenos con el número de pedido.
""",
    "pt/reembolso.md": """---
title: Como pedir um reembolso
section: Faturamento
---
Você pode pedir o reembolso de um pedido cancelado na sua conta. O reembolso chega ao seu
cartão em 5 a 10 dias.
""",
    "pt/senha.md": """---
title: Redefinir a senha
section: Acesso
---
Se o link para redefinir a senha não chega ao seu e-mail, confira a pasta de spam e peça um
novo link na página de login.
""",
}

#: (query, language) pairs the parity test ranks on both stores.
QUERIES = [
    ("password reset link never arrives", "en"),
    ("refund of a duplicate charge", "en"),
    ("my parcel has not arrived, where is my order", "en"),
    ("verification code by SMS", "en"),
    ("quiero el reembolso del pedido cancelado", "es"),
    ("no me llega el enlace para restablecer la contraseña", "es"),
    ("mi paquete no ha llegado", "es"),
    ("não consigo redefinir a senha", "pt"),
    ("reembolso do pedido", "pt"),
    ("reembolso", None),
    ("something nobody wrote about", None),
]


def write_kb(root: Path, articles: dict[str, str] | None = None) -> Path:
    for rel, text in (articles or ARTICLES).items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, "utf-8")
    return root


def markdown_source(root: Path, name: str = "help", **settings: object) -> object:
    from cstoolkit.builtin.knowledge import MarkdownSource
    from cstoolkit.store.kv import MemoryKeyValue

    return MarkdownSource(name, {"path": str(root), **settings}, MemoryKeyValue(name))
