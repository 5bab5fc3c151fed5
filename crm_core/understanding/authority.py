"""Who the visitor is in the buying decision: decision maker, influencer (recommends, or has access to
whoever decides), or researcher. Someone else's final word makes the visitor an influencer whatever their
own title ("I manage the office, the senior partner approves anything over a grand"); a decision shared
with the visitor ("lo decidimos entre mi socio y yo") makes them a decision maker."""

import re

from crm_core.models import Authority

# The visitor is the one, or one of those, who decide: "I'm the one who signs off", "soy quien decide",
# "my partner and I decide", "lo decidimos entre mi socio y yo".
_SELF_DECIDES = re.compile(
    r"\b(i'?m|i am) the (one|person) (who|that)\b|\bsoy (yo )?(quien|el que|la que)\b|"
    r"\b(my \w+ and i|i and my \w+|we both|the two of us) (decide|sign|approve|make the call)\b|"
    r"\b(lo )?(decidimos|firmamos|aprobamos) (entre )?\b|\bentre (mi|nuestr[oa]) \w+ y yo\b|"
    r"\b(decidimos|decidiremos) (juntos|juntas|los dos|las dos)\b|\bi can sign\b|\bpuedo firmar\b|"
    r"\b(it'?s )?up to me\b|\bdepends on me\b|\bdepende de m[ií]\b|\bi can approve\b|\bpuedo aprobar\b|"
    r"\bwe (decide|sign|approve|make the call)\b|\b(the decision is|it'?s) mine\b|\bit'?s my decision\b|"
    r"\b(self-employed|freelancer?|sole trader|it'?s just me|aut[oó]nom[oa]|solo yo)\b|"
    r"\b(i|and) (decide|sign|approve)\b|\by decido\b|\bbelongs to me\b|\bde mi propiedad\b|"
    r"\b(la empresa|el negocio|la tienda|el local|la cl[ií]nica|el despacho|el presupuesto) es m[ií][oa]\b|"
    r"\b(lo|la) (manejo|gestiono|controlo|llevo) yo\b|\bown (the|that|this|our|my) budget\b",
    re.I,
)
# Only gathering information, with nobody named it is for: researching ("yo solo recopilo información").
_GATHERING = re.compile(
    r"\b(just|only|solo|s[oó]lo|simplemente) (estoy )?(gathering|collecting|recopil\w+|reuniendo|buscando) "
    r"(some )?(info|information|informaci[oó]n|datos)\b",
    re.I,
)
_DECIDER = re.compile(
    r"\b(boss|manager|director|ceo|cfo|coo|owner|board|partners?|jef[ea]|gerente|director[a]?|due[ñn][oa]|"
    r"soci[oa]|junta|consejo)\b",
    re.I,
)
# Someone else has the last word: "I need to ask my boss", "it's Marta's call", "the partners sign the
# contracts", "Javier has to approve it", "necesito el visto bueno de la gerente", "decide el director".
_INFLUENCER = re.compile(
    r"\b(ask|check with|run it by|talk to|convince) (my|our|the) (boss|manager|director|team|ceo|cto|cfo)\b|"
    r"\bnot the (decision[- ]maker|one who decides)\b|\bneeds? (approval|sign[- ]off)\b|"
    r"\brecommend(s|ing|ed)?\b|\b(yo )?propongo\b|\brecomendar[ií]a\b|"
    r"\b(put it in front of|present it to|pitch it to|take it to|bring it to|show it to) (my|our|the)\b|"
    r"\b(for|para) (my|our|mi|nuestr[oa]) (boss|manager|director|ceo|jef[ea]|director[a]?|gerente)\b|"
    r"\b(procurement|purchasing|finance|compras|finanzas) (handles|decides|approves|signs|se encarga)\b|"
    r"\binfluence\b|\b(don'?t|do not) have the (final|last) (say|word)\b|"
    r"\b(decides|signs|signs off|signs it off|approves|okays|has the (final|last) (say|word)|"
    r"makes the (final )?(call|decision)|holds the purse strings)\b|"
    r"\bit'?s (not my|\w+'s|his|her|their) (call|decision)\b|\bup to (my|our|the) (boss|manager|director|"
    r"ceo|cfo|coo|board|owners?|partners?|founders?|management)\b|"
    r"\b(has|needs|will need) to (approve|sign|okay|ok|green[- ]light|sign off)\b|"
    r"\b(approval|sign[- ]off|green light|go[- ]ahead) (from|of)\b|"
    r"\b(partners|owners|founders|directors|bosses|board|management|trustees) (sign|approve|decide)\b|"
    r"\b(?!i\b)(?!we\b)\w+ (have|need) to (approve|sign|sign off|okay|ok)\b|\bno (lo )?decido\b|"
    r"\b(preguntar(le)?|consultar(lo)?|hablar(lo)?|comentar(lo)?)\b.*\b(jefe|jefa|director|directora|gerente|"
    r"equipo|socio|socia|socios|jefes|direcci[oó]n|junta|consejo|due[ñn][oa])\b|\brecomiendo\b|\brecomendar\b|"
    r"\b(mi|el|la|nuestr[oa]) (jef[ea]|gerente|director[a]?|due[ñn][oa]|soci[oa]|junta|consejo|comit[eé]|"
    r"ceo) "
    r"(decide|aprueba|firma|manda|paga|tiene la [uú]ltima palabra)\b|"
    r"\bla decisi[oó]n (final |[uú]ltima )?(es|la tiene|la toma) (de(l)?|el|la|mi)\b|"
    r"\bno (soy|decido) (yo|quien decide)\b|\bno decido yo\b|"
    r"\b(quien|el que|la que|los que|las que) (decide[n]?|firma[n]?|aprueba[n]?|manda[n]?|paga[n]?|"
    r"da[n]? el (visto bueno|ok)|tiene[n]? la [uú]ltima palabra)\b|"
    r"\b(lo )?(decide|firma|aprueba|decidir[aá]|aprobar[aá]) (mi|el|la|los|las|nuestr[oa]s?)\b|"
    r"\b(visto bueno|aprobaci[oó]n|autorizaci[oó]n) de\b|\bdepende de (mi|el|la|nuestr[oa]) (jef[ea]|"
    r"director[a]?|gerente|soci[oa]|junta|consejo|due[ñn][oa])\b|"
    r"\b(tiene|tienen) que (aprobarlo|aprobar|firmar|autorizar)\b|\bla [uú]ltima palabra la tiene\b",
    re.I,
)
_DECISION_MAKER = re.compile(
    r"\b(ceo|cto|cfo|coo|cio|cmo|founder|co-?founder|owner|president|vp|vice president|head of|director|"
    r"partner|decision[- ]maker|i decide|i make the (decision|call)|i sign|my (own )?call|i'?m the boss|"
    r"managing director|general manager|chief|i own|i run|i'?m in charge|it'?s my (company|business)|"
    r"my (own )?(company|business)|budget holder|i approve|"
    r"fundador[a]?|cofundador[a]?|due[ñn]o|due[ñn]a|propietari[oa]|president[ea]|directora?|gerente|socio|"
    r"socia|yo decido|decido yo|la decisi[oó]n es m[ií]a|firmo yo|jef[ea] de|responsable de|"
    r"mi (propia )?empresa|mi negocio|el presupuesto es m[ií]o|apruebo yo|co-?own(er)?|i head|titular|"
    r"consejer[oa] delegad[oa]|decido)\b",
    re.I,
)
_RESEARCHER = re.compile(
    r"\b(student|research(ing|er)?|intern|just looking|just browsing|curious|for a project|thesis|"
    r"dissertation|homework|assignment|academic|for (a|my) (class|course)|estudiante|investigando|"
    r"investigaci[oó]n|becari[oa]|curiosidad|para un proyecto|informando|tesis|tfg|tfm|trabajo de fin|"
    r"curioseo|curioseando|solo mirando|particular)\b",
    re.I,
)


def parse_authority(text: str) -> Authority:
    """Who the visitor is in the buying decision, from how they describe their role."""
    if _GATHERING.search(text) and not _DECIDER.search(text):
        return Authority.RESEARCHER
    if _SELF_DECIDES.search(text):
        return Authority.DECISION_MAKER
    if _INFLUENCER.search(text):
        return Authority.INFLUENCER
    if _DECISION_MAKER.search(text):
        return Authority.DECISION_MAKER
    if _RESEARCHER.search(text):
        return Authority.RESEARCHER
    return Authority.UNKNOWN
