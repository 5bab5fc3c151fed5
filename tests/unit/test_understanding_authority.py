"""Who decides (crm_core.understanding.authority): the visitor, someone the visitor answers to, or nobody yet."""

import pytest

from crm_core.models import Authority
from crm_core.understanding import parse_authority

DECIDES = Authority.DECISION_MAKER
INFLUENCES = Authority.INFLUENCER
RESEARCHES = Authority.RESEARCHER


@pytest.mark.parametrize(
    ("text", "authority"),
    [
        # another person has the final word, whatever the visitor's own title
        ("it's Priya's call in the end", INFLUENCES),
        ("our COO has to approve it", INFLUENCES),
        ("I run the warehouse, but the owners sign the contracts", INFLUENCES),
        ("I manage the clinic; the senior partner approves anything over a grand", INFLUENCES),
        ("I'd need sign-off from finance", INFLUENCES),
        ("quien decide es Marisa, la gerente", INFLUENCES),
        ("quien aprueba los gastos es mi jefe", INFLUENCES),
        ("necesito el visto bueno de dirección", INFLUENCES),
        ("eso lo decide el consejo", INFLUENCES),
        ("decide la directora", INFLUENCES),
        ("I'm in IT, I'll put it in front of our CFO", INFLUENCES),
        ("I'd be the one recommending it", INFLUENCES),
        ("I'm collecting options for my manager", INFLUENCES),
        ("soy el encargado, pero quien paga es la dueña", INFLUENCES),
        ("yo propongo y el gerente aprueba", INFLUENCES),
        ("la decisión final es del comité", INFLUENCES),
        ("tengo que hablarlo con mi socia", INFLUENCES),
        ("I chair the parents' association; the trustees have to sign it", INFLUENCES),
        ("soy recepcionista, la que tiene la última palabra es la directora", INFLUENCES),
        # the visitor decides, alone or with a partner
        ("Head of Sales, and yes, I can sign", DECIDES),
        ("Director of Operations, the budget is mine: I own the budget", DECIDES),
        ("it's my call", DECIDES),
        ("soy la gerente, decido yo", DECIDES),
        ("soy socio, lo decidimos entre mi socia y yo", DECIDES),
        ("my co-founder and I decide together", DECIDES),
        ("it's up to me", DECIDES),
        ("team lead, I can approve up to 5k", DECIDES),
        ("freelancer, it's just me", DECIDES),
        ("soy autónoma", DECIDES),
        ("I run the front office and decide on tools", DECIDES),
        ("we co-own the studio", DECIDES),
        ("I head customer success and own the budget", DECIDES),
        ("the café belongs to me", DECIDES),
        ("el despacho es mío", DECIDES),
        ("soy la titular de la farmacia", DECIDES),
        ("el presupuesto lo llevo yo", DECIDES),
        # researching, not buying
        ("I'm a student", RESEARCHES),
        ("I'm writing my master's thesis on chatbots", RESEARCHES),
        ("particular, solo curioseo", RESEARCHES),
        ("estoy haciendo el TFG", RESEARCHES),
        ("only collecting information, it's not my call", RESEARCHES),  # nobody named it is for
        ("solo estoy reuniendo datos", RESEARCHES),
        # nothing said about the decision
        ("I work in marketing", Authority.UNKNOWN),
        ("we have up to the end of the year", Authority.UNKNOWN),
        ("depende de la fecha de entrega", Authority.UNKNOWN),
    ],
)
def test_who_decides(text: str, authority: Authority) -> None:
    assert parse_authority(text) is authority
