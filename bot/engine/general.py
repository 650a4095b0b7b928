"""The general route for a company the flow is not about, from the directory: what to tell
someone who writes « Spotify m'a prélevé deux fois » to the Cstream flow, instead of walking
them through Cstream's questions. Only what the directory states is said, each claim with
« non vérifié » when its source is secondary: a mediator a source names for the company;
else the sector's (said to take its members only when it does); else the one the company's
terms of sale must name. A sector's facts are added when the person's words call for them
(`said`: a fine, a cancelled flight)."""
from __future__ import annotations

from ..flow.directory import Company, Directory
from ..flow.model import tr
from ..locales import t
from .infer import said_in

_UNITS = {"fr": {"day": "jour", "days": "jours", "week": "semaine", "weeks": "semaines", "month": "mois",
                 "months": "mois", "year": "an", "years": "ans"}}
OFFICIAL_LIST = "economie.gouv.fr/mediation-conso"


def delay_words(delay: str, lang: str) -> str:
    """« 2 months » -> « 2 mois » (English as written)."""
    amount, _, unit = delay.partition(" ")
    return f"{amount} {_UNITS.get(lang, {}).get(unit, unit)}"


def general_route(directory: Directory, company: Company, lang: str, flow_title: str, text: str = "") -> str:
    """Who to write to, how long they have, and which mediator, in a few sentences; `text`, the
    person's words, brings in the sector facts they call for."""
    sector = directory.sectors.get(company.sector)
    name, of = _called(company, lang)
    if company.market != "FR":  # SNCB, Proximus, Vidéotron: customers elsewhere, the French route is not theirs
        return " ".join([t(lang, "route_elsewhere", of_name=of, country=t(lang, f"country_{company.market}")),
                         t(lang, "route_if_ours")])
    parts = [t(lang, "route_about", of_name=of, name=name, flow=flow_title)]
    steps = company.steps or (sector.steps if sector else ())
    first = steps[0] if steps else None
    to = tr(first.to, lang) if first else t(lang, "route_customer_service")
    wait = first.wait if first else "2 months"
    parts.append(t(lang, "route_write", to=to) + (t(lang, "route_wait", wait=delay_words(wait, lang)) if wait else "")
                 + ".")
    address = company.address
    if address is not None and address.scope not in (None, "le siège", "les deux niveaux") \
            and not said_in([text], (address.scope.split()[-1],)):
        address = None  # « Orange Service Clients Mobile » is not for a livebox
    if address is not None and address.stated:
        key = "route_head_office" if address.scope == "le siège" else "route_address"
        notes = [n for n in ((address.scope if key == "route_address" else None),
                             t(lang, "route_not_checked") if address.status == "secondary" else None) if n]
        parts.append(t(lang, key, address=", ".join(address.value),
                       caveat=f" ({', '.join(notes)})" if notes else ""))
    if company.phone is not None and company.phone.stated:
        parts.append(t(lang, "route_phone", number=company.phone.value, caveat=_caveat(company.phone, lang)))
    for step in steps[1:]:
        known = address is not None and address.stated
        where = f" ({tr(step.address, lang)})" if step.address and not known else ""
        parts.append(t(lang, "route_then", to=tr(step.to, lang) + where, wait=delay_words(step.wait, lang)))
    if first is not None and first.direct_after and len(steps) > 1:
        parts.append(t(lang, "route_direct", wait=delay_words(first.direct_after, lang)))
    if sector is not None and sector.no_mediation:
        parts.append(t(lang, "route_no_mediation"))
    else:
        parts.append(_mediator(directory, company, sector, name, lang))
        if company.country != "FR":  # a seat a source gives (Vinted: Lithuania)
            parts.append(t(lang, "route_abroad", name=name))
    parts += [tr(f.value, lang) for f in company.facts + (sector.facts if sector else ())
              if f.stated and f.said and said_in([text], f.said)][:1]  # the one the words call for: short
    parts.append(t(lang, "route_if_ours"))
    return " ".join(parts)


def _mediator(directory: Directory, company: Company, sector, name: str, lang: str) -> str:
    named = company.mediator
    if named is not None and named.stated and named.value in directory.mediators:
        mediator = directory.mediators[named.value]
        caveat = t(lang, "route_unchecked", name=name) if named.status == "secondary" else _caveat(mediator.fact, lang)
        return t(lang, "route_mediator", mediator=mediator.name, url=_host(mediator.url), caveat=caveat)
    if sector is not None and sector.mediator in directory.mediators:
        mediator = directory.mediators[sector.mediator]
        key = "route_sector_members" if mediator.members else "route_sector_mediator"
        return t(lang, key, mediator=mediator.name, url=_host(mediator.url), list=OFFICIAL_LIST,
                 caveat=_caveat(mediator.fact, lang))
    return t(lang, "route_terms_mediator", list=OFFICIAL_LIST)


def _called(company: Company, lang: str) -> tuple[str, str]:
    """How a sentence names it, and « of » it: « la SNCF », « de la SNCF »; « EDF », « d'EDF »;
    « le Crédit Agricole », « du Crédit Agricole » (English: the name both times)."""
    if lang != "fr":
        return company.name, company.name
    name = company.short or company.name
    lower = name[:1].lower() + name[1:]
    if lower.startswith("le "):
        return name, "du " + name[3:]
    if lower.startswith("les "):
        return name, "des " + name[4:]
    if lower.startswith(("la ", "l'")):
        return name, "de " + lower
    return name, (f"d'{name}" if name[:1].upper() in "AEIOUYÉÈÊÀÂÎÔÛH" else f"de {name}")


def _caveat(fact, lang: str) -> str:
    return f" ({t(lang, 'route_not_checked')})" if fact is not None and fact.status == "secondary" else ""


def _host(url: str | None) -> str:
    """The address to type, short enough for a phone: « ratp.fr/mediateur », « sncf.com »."""
    bare = (url or "").removeprefix("https://").removeprefix("http://").removeprefix("www.").rstrip("/")
    return bare if len(bare) <= 32 else bare.split("/")[0]
