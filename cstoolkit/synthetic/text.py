"""Realistic first messages for the sample desk (``SampleSpec.realistic_text``).

The plain generator writes each ticket's subject and first message from one template of its
topic, and the topic decides the group: routing on that data is trivial (a keyword per group
gets it right every time). With ``realistic_text`` each first message is rewritten from its own
random stream (``cst-sample/SEED/text``), so the rest of the simulation draws exactly what it
drew before:

* **paraphrases**: about half the messages are written from phrase tables (several ways to say
  each problem, openers and closers) instead of the template, with words the shipped keyword
  recipe does not know;
* **two topics** (12%): a second problem of another group is mentioned; the agent who reads
  it decides which group owns the ticket (30% the second topic's);
* **vague messages** (7%): "Hello, I have a problem, please call me": nothing in the text tells
  the group;
* **mixed languages** (10%): an opener, a phrase or a closer in another of es/en/pt;
* **typos**: about 4% of the longer words lose, double or swap a letter or lose an accent;
* **corrections** (about 5% in all): the routing trigger put the ticket in the wrong group and
  an agent moved it (a ``group_change`` event by that agent right after the first reply). The
  ticket's final group is the human decision; training on the first group would learn the
  trigger's mistakes.

Data and pure functions only; :mod:`cstoolkit.synthetic.simulation` calls :func:`rewrite`.
"""

from __future__ import annotations

import random
import unicodedata
from dataclasses import dataclass

from cstoolkit.synthetic.vocabulary import TOPIC_GROUP

P_PARAPHRASE = 0.5
P_TWO_TOPICS = 0.12
P_SECOND_WINS = 0.3  # of the two-topic messages: the agent moves it to the second topic's group
P_VAGUE = 0.07
P_MIXED = 0.10
P_TYPO = 0.04  # per word of five letters or more
P_MISROUTE = 0.02  # besides the two-topic moves: the trigger simply guessed wrong
LANGS = ("es", "en", "pt")

#: Ways to state each problem, per language: none uses the shipped keyword recipe's words only.
PHRASES: dict[str, dict[str, tuple[str, ...]]] = {
    "es": {
        "billing": ("me habéis pasado dos veces el mismo importe",
                    "quiero que me devolváis el dinero", "el recibo de este mes está mal",
                    "necesito el justificante del pago para mi gestor",
                    "no reconozco un cargo en mi tarjeta"),
        "login": ("no consigo entrar en la plataforma", "la clave no me funciona",
                  "el código del SMS no llega", "me ha dejado fuera después de tres intentos",
                  "no puedo acceder desde el móvil"),
        "bug": ("la app se queda en blanco", "al pulsar guardar sale un fallo",
                "la web va muy lenta y se cuelga", "los cambios no aparecen en el móvil",
                "la pantalla se congela al abrir el informe"),
        "shipping": ("el paquete sigue sin llegar", "el seguimiento no se mueve desde el lunes",
                     "la caja llegó abierta", "el repartidor no vino",
                     "quiero mandarlo a otra dirección"),
        "feature": ("estaría bien poder descargar los datos", "echo en falta un tema oscuro",
                    "¿vais a sacar una integración con Slack?",
                    "propongo añadir filtros a la lista"),
        "account": ("quiero darme de baja", "hay que cambiar el email de acceso",
                    "necesitamos más licencias para el equipo", "quiero cambiar el titular",
                    "borrad mis datos, por favor"),
    },
    "en": {
        "billing": ("you took the payment twice", "I want my money back",
                    "this month's statement is wrong", "I need a receipt for my accountant",
                    "there is a card transaction I don't recognise"),
        "login": ("I can't get into the platform", "my credentials stopped working",
                  "the text message with the code never comes", "I'm locked out after three tries",
                  "I can't sign in from my phone"),
        "bug": ("the app shows a blank screen", "hitting save throws a failure",
                "the site is very slow and freezes", "edits don't appear on my phone",
                "the screen freezes when I open the report"),
        "shipping": ("the parcel still hasn't come", "tracking hasn't moved since Monday",
                     "the box arrived open", "the courier never showed up",
                     "please send it to another address"),
        "feature": ("it would be great to download the data", "I miss a dark theme",
                    "will you build a Slack integration?", "please add filters to the list"),
        "account": ("I want to leave", "the login email needs to change",
                    "we need more seats for the team", "the owner of the workspace changed",
                    "please delete my data"),
    },
    "pt": {
        "billing": ("vocês debitaram o mesmo valor duas vezes", "quero meu dinheiro de volta",
                    "o boleto deste mês está errado", "preciso do comprovante de pagamento",
                    "tem uma compra no cartão que não reconheço"),
        "login": ("não consigo entrar na plataforma", "minha credencial parou de funcionar",
                  "o SMS com o código não chega", "fiquei sem acesso depois de três tentativas",
                  "não consigo acessar pelo celular"),
        "bug": ("o app fica com a tela branca", "ao clicar em salvar dá falha",
                "o site está muito lento e trava", "as mudanças não aparecem no celular",
                "a tela congela ao abrir o relatório"),
        "shipping": ("a encomenda ainda não chegou", "o rastreio não anda desde segunda",
                     "a caixa chegou aberta", "o entregador não apareceu",
                     "quero mandar para outro endereço"),
        "feature": ("seria ótimo baixar os dados", "sinto falta de um tema escuro",
                    "vocês vão fazer integração com Slack?", "sugiro colocar filtros na lista"),
        "account": ("quero sair", "preciso mudar o e-mail de acesso",
                    "precisamos de mais licenças para a equipe", "o titular da conta mudou",
                    "apaguem meus dados, por favor"),
    },
}  # fmt: skip

SUBJECTS: dict[str, dict[str, tuple[str, ...]]] = {
    "es": {"billing": ("Duda con un pago", "Importe incorrecto", "Devolución"),
           "login": ("No puedo entrar", "Acceso", "Problema con la clave"),
           "bug": ("Algo falla", "La app no va", "Fallo al guardar"),
           "shipping": ("¿Dónde está mi paquete?", "Envío", "Paquete"),
           "feature": ("Sugerencia", "Idea", "Propuesta"),
           "account": ("Mi cuenta", "Baja", "Cambio de datos")},
    "en": {"billing": ("Question about a payment", "Wrong amount", "Money back"),
           "login": ("Can't get in", "Access", "Trouble signing in"),
           "bug": ("Something is broken", "App not working", "Save fails"),
           "shipping": ("Where is my parcel?", "Delivery", "Parcel"),
           "feature": ("Suggestion", "Idea", "Proposal"),
           "account": ("My account", "Leaving", "Change of details")},
    "pt": {"billing": ("Dúvida sobre um pagamento", "Valor errado", "Devolução"),
           "login": ("Não consigo entrar", "Acesso", "Problema com a senha"),
           "bug": ("Algo está quebrado", "O app não funciona", "Falha ao salvar"),
           "shipping": ("Cadê minha encomenda?", "Entrega", "Encomenda"),
           "feature": ("Sugestão", "Ideia", "Proposta"),
           "account": ("Minha conta", "Cancelamento", "Mudança de dados")},
}  # fmt: skip

OPENERS = {
    "es": ("Hola,", "Buenas,", "Buenos días.", "Hola equipo,", ""),
    "en": ("Hi,", "Hello,", "Good morning.", "Hi team,", ""),
    "pt": ("Olá,", "Oi,", "Bom dia.", "Olá equipe,", ""),
}
CLOSERS = {
    "es": ("Gracias.", "Un saludo.", "¿Me ayudáis?", "Es urgente.", ""),
    "en": ("Thanks.", "Regards.", "Can you help?", "It's urgent.", ""),
    "pt": ("Obrigado.", "Abraço.", "Podem ajudar?", "É urgente.", ""),
}
ALSO = {"es": "Y otra cosa:", "en": "Also,", "pt": "E outra coisa:"}
VAGUE_SUBJECTS = {
    "es": ("Ayuda", "Urgente", "Consulta", "Problema"),
    "en": ("Help", "Urgent", "Question", "Problem"),
    "pt": ("Ajuda", "Urgente", "Dúvida", "Problema"),
}
VAGUE = {
    "es": ("Tengo un problema, ¿me podéis llamar?", "Esto no funciona como debería.",
           "Necesito ayuda cuanto antes.", "Os escribí la semana pasada y nadie contesta."),
    "en": ("I have a problem, can you call me?", "This doesn't work the way it should.",
           "I need help as soon as possible.", "I wrote last week and nobody answered."),
    "pt": ("Tenho um problema, podem me ligar?", "Isso não funciona como deveria.",
           "Preciso de ajuda o quanto antes.", "Escrevi semana passada e ninguém respondeu."),
}  # fmt: skip
TOPICS = tuple(PHRASES["es"])
#: Where a routing trigger plausibly puts a ticket by mistake.
WRONG_GROUP = {"general": "billing", "billing": "general", "technical": "general"}


@dataclass(frozen=True, slots=True)
class Message:
    """A rewritten first message and who owns the ticket.

    ``group`` is the group the people of the desk finally decide; ``routed`` is where the
    routing trigger first put the ticket when that differs (an agent then corrects it)."""

    subject: str
    description: str
    group: str
    routed: str | None = None


def _choice(rng: random.Random, options: tuple[str, ...]) -> str:
    return options[int(rng.random() * len(options))]


def _strip_accent(word: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", word) if not unicodedata.combining(c))


def typos(rng: random.Random, text: str, rate: float = P_TYPO) -> str:
    """Drop, double or swap a letter, or lose the accents, in some of the longer words."""
    words = text.split(" ")
    for i, w in enumerate(words):
        if len(w) < 5 or rng.random() >= rate:
            continue
        k = 1 + int(rng.random() * (len(w) - 2))
        kind = int(rng.random() * 4)
        if kind == 0:
            words[i] = w[:k] + w[k + 1 :]
        elif kind == 1:
            words[i] = w[:k] + w[k] + w[k:]
        elif kind == 2:
            words[i] = w[: k - 1] + w[k] + w[k - 1] + w[k + 1 :]
        else:
            words[i] = _strip_accent(w)
    return " ".join(words)


def _sentence(phrase: str) -> str:
    phrase = phrase[0].upper() + phrase[1:]
    return phrase if phrase[-1] in ".?!" else phrase + "."


def rewrite(rng: random.Random, lang: str, topic: str, subject: str, description: str) -> Message:
    """The realistic version of a ticket's first message (see the module's docstring)."""
    group = TOPIC_GROUP[topic]
    other = lang
    if rng.random() < P_MIXED:
        other = _choice(rng, tuple(x for x in LANGS if x != lang))
    if rng.random() < P_VAGUE:
        return Message(
            typos(rng, _choice(rng, VAGUE_SUBJECTS[lang])),
            typos(rng, f"{_choice(rng, OPENERS[other])} {_choice(rng, VAGUE[lang])}".strip()),
            group,
        )
    if rng.random() < P_PARAPHRASE:
        subject = _choice(rng, SUBJECTS[lang][topic])
        description = _sentence(_choice(rng, PHRASES[lang][topic]))
    parts = [_choice(rng, OPENERS[other]), description]
    routed: str | None = None
    if rng.random() < P_TWO_TOPICS:
        second = _choice(rng, tuple(t for t in TOPICS if TOPIC_GROUP[t] != group))
        phrase_lang = other if rng.random() < 0.5 else lang
        parts += [ALSO[phrase_lang], _sentence(_choice(rng, PHRASES[phrase_lang][second]))]
        if rng.random() < P_SECOND_WINS:
            routed, group = group, TOPIC_GROUP[second]
    elif rng.random() < P_MISROUTE:
        routed = WRONG_GROUP.get(group, "general")
    parts.append(_choice(rng, CLOSERS[other if rng.random() < 0.5 else lang]))
    text = " ".join(p for p in parts if p)
    return Message(typos(rng, subject), typos(rng, text), group, routed)
