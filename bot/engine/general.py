"""The general route for a company the flow is not about, from the directory: what to tell
someone who writes « Spotify m'a prélevé deux fois » to the Cstream flow, instead of walking
them through Cstream's questions. Only what the directory states is said: a mediator a
source names (« non vérifié » when the source is secondary), else the sector's for its
members, else the one the company's terms of sale must name."""
from __future__ import annotations

from ..flow.directory import Company, Directory
from ..flow.model import tr
from ..locales import t

_UNITS = {"fr": {"day": "jour", "days": "jours", "week": "semaine", "weeks": "semaines", "month": "mois",
                 "months": "mois", "year": "an", "years": "ans"}}
OFFICIAL_LIST = "economie.gouv.fr/mediation-conso"


def delay_words(delay: str, lang: str) -> str:
    """« 2 months » -> « 2 mois » (English as written)."""
    amount, _, unit = delay.partition(" ")
    return f"{amount} {_UNITS.get(lang, {}).get(unit, unit)}"


def general_route(directory: Directory, company: Company, lang: str, flow_title: str) -> str:
    """Who to write to, how long they have, and which mediator, in a few sentences."""
    sector = directory.sectors.get(company.sector)
    parts = [t(lang, "route_about", name=company.name, of_name=_of(company.name, lang), flow=flow_title)]
    if company.market != "FR":  # SNCB, Proximus, Vidéotron: customers elsewhere, the French route is not theirs
        return " ".join([t(lang, "route_elsewhere", name=company.name, of_name=_of(company.name, lang),
                           country=t(lang, f"country_{company.market}")),
                         t(lang, "route_if_ours")])
    steps = sector.steps if sector else ()
    first = steps[0] if steps else None
    parts.append(t(lang, "route_write", to=tr(first.to, lang) if first else t(lang, "route_customer_service"),
                   wait=delay_words(first.wait, lang) if first else delay_words("2 months", lang)))
    if company.address is not None and company.address.stated:
        parts.append(t(lang, "route_address", address=", ".join(company.address.value))
                     + _unchecked(company.address, lang))
    if company.phone is not None and company.phone.stated:
        parts.append(t(lang, "route_phone", number=company.phone.value) + _unchecked(company.phone, lang))
    for step in steps[1:]:
        where = f" ({tr(step.address, lang)})" if step.address else ""
        parts.append(t(lang, "route_then", to=tr(step.to, lang) + where, wait=delay_words(step.wait, lang)))
    if first is not None and first.direct_after and len(steps) > 1:
        parts.append(t(lang, "route_direct", wait=delay_words(first.direct_after, lang)))
    if sector is not None and sector.no_mediation:
        parts.append(t(lang, "route_no_mediation"))
    else:
        parts.append(_mediator(directory, company, sector, lang))
    if company.country != "FR":
        parts.append(t(lang, "route_abroad", name=company.name))
    parts.append(t(lang, "route_if_ours"))
    return " ".join(parts)


def _mediator(directory: Directory, company: Company, sector, lang: str) -> str:
    named = company.mediator
    if named is not None and named.stated and named.value in directory.mediators:
        mediator = directory.mediators[named.value]
        caveat = t(lang, "route_unchecked", name=company.name) if named.status == "secondary" else ""
        return t(lang, "route_mediator", mediator=mediator.name, url=_host(mediator.url), caveat=caveat)
    if sector is not None and sector.mediator in directory.mediators:
        mediator = directory.mediators[sector.mediator]
        return t(lang, "route_sector_mediator", mediator=mediator.name, url=_host(mediator.url), list=OFFICIAL_LIST)
    return t(lang, "route_terms_mediator", list=OFFICIAL_LIST)


def _of(name: str, lang: str) -> str:
    """« de SFR », « d'EDF » (French elision before a vowel); the name alone in English."""
    if lang != "fr":
        return name
    return f"d'{name}" if name[:1].upper() in "AEIOUYÉÈÊÀÂÎÔÛH" and not name.upper().startswith("HY") else f"de {name}"


def _unchecked(fact, lang: str) -> str:
    return f" ({t(lang, 'unchecked')})" if fact.status == "secondary" else ""


def _host(url: str | None) -> str:
    return (url or "").removeprefix("https://").removeprefix("http://").removeprefix("www.").rstrip("/")

