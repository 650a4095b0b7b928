"""The general route for a company the flow is not about, from the directory: what to tell
someone who writes « Spotify m'a prélevé deux fois » to the Cstream flow, instead of walking
them through Cstream's questions. Only what the directory states is said, each claim with
« non vérifié » when its source is secondary: a mediator a source names for the company;
else the sector's (said to take its members only when it does); else the one the company's
terms of sale must name. A sector's facts are added when the person's words call for them
(`said`: a fine, a cancelled flight)."""
from __future__ import annotations

import re
from dataclasses import replace
from typing import cast

from ..flow.directory import Company, Directory, Sector, Sourced, Step
from ..flow.model import COMPANY, Delay, DelayUnit, Flow, Text, tr
from ..locales import t
from ..flow.recognise import normalise
from ..flow.route import capitalised_name, named_as_typed, unlisted_name
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
    if address is not None and address.scope is not None and address.scope not in ("le siège", "les deux niveaux") \
            and not said_in([text], (address.scope.split()[-1],)):
        address = None  # « Orange Service Clients Mobile » is not for a livebox
    if address is not None and address.stated:
        key = "route_head_office" if address.scope == "le siège" else "route_address"
        notes = [n for n in ((address.scope if key == "route_address" else None),
                             t(lang, "route_not_checked") if address.status == "secondary" else None) if n]
        parts.append(t(lang, key, address=", ".join(cast(tuple[str, ...], address.value)),  # an address: its lines
                       caveat=f" ({', '.join(notes)})" if notes else ""))
    if company.phone is not None and company.phone.stated:
        parts.append(t(lang, "route_phone", number=company.phone.value, caveat=_caveat(company.phone, lang)))
    for step in steps[1:]:
        known = address is not None and address.stated
        where = f" ({tr(step.address, lang)})" if step.address and not known else ""
        parts.append(t(lang, "route_then", to=tr(step.to, lang) + where, wait=delay_words(step.wait or DEFAULT_WAIT, lang)))
    if first is not None and first.direct_after and len(steps) > 1:
        parts.append(t(lang, "route_direct", wait=delay_words(first.direct_after, lang)))
    if sector is not None and sector.no_mediation:
        parts.append(t(lang, "route_no_mediation"))
    else:
        parts.append(_mediator(directory, company, sector, name, lang))
        if company.country != "FR":  # a seat a source gives (Vinted: Lithuania)
            parts.append(t(lang, "route_abroad", name=name))
    parts += [tr(cast(Text, f.value), lang) for f in company.facts + (sector.facts if sector else ())
              if f.stated and f.said and said_in([text], f.said)][:1]  # the one the words call for: short
    parts.append(t(lang, "route_if_ours"))
    return " ".join(parts)


def _mediator(directory: Directory, company: Company, sector: Sector | None, name: str, lang: str) -> str:
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


def _caveat(fact: Sourced | None, lang: str) -> str:
    return f" ({t(lang, 'route_not_checked')})" if fact is not None and fact.status == "secondary" else ""


def _host(url: str | None) -> str:
    """The address to type, short enough for a phone: « ratp.fr/mediateur », « sncf.com »."""
    bare = (url or "").removeprefix("https://").removeprefix("http://").removeprefix("www.").rstrip("/")
    return bare if len(bare) <= 32 else bare.split("/")[0]


# -- a flow on the directory (`directory: true`: flows/general.yaml) -------------------------------
UNKNOWN = "unknown"  # the company answer of « je ne sais pas »
OTHER = "other"      # a company the directory does not know: its name is what was typed
SELLER = "seller"    # the question that tells a private seller from a professional one on a platform
# Where the European Consumer Centre France helps with a trader: the EU, Iceland and Norway (not the UK).
EEA = frozenset("AT BE BG CY CZ DE DK EE ES FI GR HR HU IE IT LT LU LV MT NL PL PT RO SE SI SK IS NO".split())
DEFAULT_WAIT = "2 months"
_ABROAD = re.compile(r"\b(?:j'habite|j’habite|je vis|je réside|je reside|i live|we live)\s+(?:en|au|aux|à|a|in)\s+"
                     r"(?:belgique|suisse|canada|qu[ée]bec|luxembourg|monaco|belgium|switzerland)\b", re.I)


def lives_abroad(text: str) -> bool:
    """Whether a description says the person lives outside France (« j'habite en Belgique »)."""
    return _ABROAD.search(text) is not None


def company_of(flow: Flow, answers: dict[str, str]) -> tuple[str | None, Company | None]:
    """The company answer (a directory id, `unknown`, or the name of one it does not know) and
    the directory's entry for it."""
    node = next((n.id for n in flow.nodes.values() if n.kind == COMPANY), None)
    said = answers.get(node) if node else None
    return said, (flow.directory.companies.get(said) if flow.directory is not None and said else None)


def steps_of(flow: Flow, answers: dict[str, str]) -> tuple[Step, ...]:
    """The written steps before the mediator: the company's own, else its sector's."""
    _, company = company_of(flow, answers)
    assert flow.directory is not None  # called for a flow on the directory only
    sector = flow.directory.sectors.get(company.sector if company else answers.get("sector", ""))
    if _professional(sector, answers):
        return ()  # a professional seller on a platform between people, or the platform: its customer service
    return (company.steps if company and company.steps else ()) or (sector.steps if sector else ())


LEVELS = "levels"  # a derived answer conditions may test: `two` when the company's route has a second written level


def derived(flow: Flow, answers: dict[str, str]) -> dict[str, str]:
    """`answers` with what the directory says of them: `levels`, how many written steps come
    before the mediator (telecom, ENGIE: two), so that `when: {levels: two}` reads in any flow."""
    if flow.directory is None:
        return answers
    return {**answers, LEVELS: "two" if len(steps_of(flow, answers)) > 1 else "one"}


def _professional(sector: Sector | None, answers: dict[str, str]) -> bool:
    """On a platform between private people (Vinted), a dispute with a professional seller or
    with the platform itself: a consumer dispute after all (`seller:` pro or platform)."""
    return sector is not None and sector.no_mediation and answers.get(SELLER) in ("pro", "platform")


def timeline_of(flow: Flow, answers: dict[str, str]) -> dict[str, Delay]:
    """The flow's timeline for these answers: an entry with `step: N` takes the wait of the
    company's step N when its sector gives one (telecom: 1 month), `step: all` every step's wait
    added up (when the mediator may be asked); otherwise its own `delay`."""
    if flow.directory is None or not any(d.step or d.steps for d in flow.timeline.values()):
        return flow.timeline
    waits = [_delay(step.wait) for step in steps_of(flow, answers) if step.wait]
    out = {}
    for name, delay in flow.timeline.items():
        if delay.step and delay.step <= len(waits):
            delay = replace(delay, amount=waits[delay.step - 1][0], unit=waits[delay.step - 1][1])
        elif delay.steps and waits and len({unit for _, unit in waits}) == 1:
            delay = replace(delay, amount=sum(n for n, _ in waits), unit=waits[0][1])
        out[name] = delay
    return out


def _delay(wait: str) -> tuple[int, DelayUnit]:
    amount, _, unit = wait.partition(" ")
    return int(amount), cast(DelayUnit, unit if unit.endswith("s") else unit + "s")  # directory.DELAY: day(s)... year(s)


def route_parts(flow: Flow, answers: dict[str, str], texts: dict[str, str], lang: str) -> dict[str, str]:
    """What {route.x} says for the company named (flows/README.md lists them): its name, whom
    to write to first and how long they have, the later steps, the mediator, the address."""
    directory = flow.directory
    assert directory is not None  # called for a flow on the directory only
    said, company = company_of(flow, answers)
    sector = directory.sectors.get(company.sector if company else answers.get("sector", ""))
    name, of, company, known = _names(flow, answers, texts, said, company, sector, lang)
    steps = steps_of(flow, answers)
    first = steps[0] if steps else None
    then = [t(lang, "route_then", to=tr(step.to, lang) + (f" ({tr(step.address, lang)})" if step.address else ""),
              wait=delay_words(step.wait or DEFAULT_WAIT, lang)) for step in steps[1:]]
    if first is not None and first.direct_after and len(steps) > 1:
        then.append(t(lang, "route_direct", wait=delay_words(first.direct_after, lang)))
    mediator, mediator_name = _mediator_parts(directory, company, sector, answers, name, lang)
    named = mediator_name or t(lang, "route_mediator_of_terms")
    typed = " ".join(texts.values())
    lines, contact = _contact(company, typed, lang)
    addressee = company.name if company is not None else name if known else t(lang, "route_addressee_blank")
    if lines and normalise(lines[0]).startswith(normalise(addressee)):  # « Bouygues Telecom – Service Clients »
        addressee, lines = lines[0], lines[1:]
    facts = [tr(cast(Text, f.value), lang) for f in (company.facts if company else ()) + (sector.facts if sector else ())
             if f.stated and f.said and said_in([typed], f.said)]
    to = tr(first.to, lang) if first else t(lang, "route_customer_service")
    country = company.country if company is not None else "FR"
    return {
        "company": name, "company_of": of, "write_to": _write_to(to, name, of, known, lang),
        "first": to, "wait": delay_words(first.wait if first and first.wait else DEFAULT_WAIT, lang),
        "then": " ".join(then),
        "after": (t(lang, "route_after_steps", to=tr(steps[1].to, lang),
                    wait=delay_words(steps[1].wait or DEFAULT_WAIT, lang), mediator=named)
                  if len(steps) > 1 else t(lang, "route_after", mediator=named)),
        "mediator": mediator, "mediator_name": named,
        "letter_next": t("fr", "route_letter_then_mediator" if len(steps) > 1 else "route_letter_mediator"),
        "contact": " ".join(contact) or t(lang, "route_contact_unknown"),
        "address": ", ".join(lines) if lines else t(lang, "route_address_unknown"),
        "address_lines": "\n".join(lines) if lines else t("fr", "route_address_blank"),
        "addressee": addressee,
        "phone": cast(str, company.phone.value) if company is not None and company.phone and company.phone.stated else "",
        "fact": facts[0] if facts else "", "facts": " ".join(facts),
        "abroad": "" if country == "FR" else t(lang, "route_cec" if country in EEA else "route_outside_eu", name=name),
        "sector": tr(sector.name, lang) if sector else "",
    }


def _names(flow: Flow, answers: dict[str, str], texts: dict[str, str], said: str | None, company: Company | None,
           sector: Sector | None, lang: str) -> tuple[str, str, Company | None, bool]:
    """(name, « of » name, the company the route is about, whether it has a name): a
    professional seller on a platform between people is « le vendeur », not the platform."""
    if answers.get(SELLER) == "pro" and sector is not None and sector.no_mediation:
        return t(lang, "route_the_seller"), t(lang, "route_of_the_seller"), None, False
    if company is not None:
        return (*_called(company, lang), company, True)
    typed = _other_name(flow, texts) if said == OTHER else None
    if typed:  # a name the directory does not know: as written
        of = typed if lang != "fr" else (f"d'{typed}" if typed[:1].upper() in "AEIOUYÉÈÊÀÂÎÔÛH" else f"de {typed}")
        return typed, of, None, True
    return t(lang, "route_the_company"), t(lang, "route_of_the_company"), None, False


def _mediator_parts(directory: Directory, company: Company | None, sector: Sector | None, answers: dict[str, str],
                    name: str, lang: str) -> tuple[str, str]:
    """The mediator in a sentence, and its name alone ("" when no source names one for it: a
    sector's mediator that takes its members only is not named for a company not listed)."""
    if sector is not None and sector.no_mediation and not _professional(sector, answers):
        return t(lang, "route_no_mediation"), ""
    if company is not None:
        found = directory.mediator_of(company)
        named = company.mediator is not None and company.mediator.stated
        mediator_name = "" if found is None or (found.members and not named) else found.name
        if named and company.mediator is not None and company.mediator.status == "secondary" and mediator_name:
            mediator_name += f" ({t(lang, 'route_not_checked')})"
        return _mediator(directory, company, sector, name, lang), mediator_name
    if sector is not None and sector.mediator in directory.mediators:
        found = directory.mediators[sector.mediator]
        key = "route_sector_members" if found.members else "route_sector_mediator"
        return (t(lang, key, mediator=found.name, url=_host(found.url), list=OFFICIAL_LIST,
                  caveat=_caveat(found.fact, lang)), "" if found.members else found.name)
    return t(lang, "route_terms_mediator", list=OFFICIAL_LIST), ""


def _contact(company: Company | None, typed: str, lang: str) -> tuple[tuple[str, ...], list[str]]:
    """The sourced address lines (an address for one scope, « le mobile », only when the words
    speak of it) and the sentences giving them and the phone."""
    address = company.address if company is not None else None
    if address is not None and address.scope is not None and address.scope not in ("le siège", "les deux niveaux") \
            and not said_in([typed], (address.scope.split()[-1],)):
        address = None
    lines = tuple(cast(tuple[str, ...], address.value)) if address is not None and address.stated else ()  # its lines
    contact = []
    if lines:
        assert address is not None  # the lines are its own
        key = "route_head_office" if address.scope == "le siège" else "route_address"
        notes = [n for n in ((address.scope if key == "route_address" else None),
                             t(lang, "route_not_checked") if address.status == "secondary" else None) if n]
        contact.append(t(lang, key, address=", ".join(lines), caveat=f" ({', '.join(notes)})" if notes else ""))
    phone = company.phone if company is not None else None
    if phone is not None and phone.stated:
        contact.append(t(lang, "route_phone", number=phone.value, caveat=_caveat(phone, lang)))
    return lines, contact


def _write_to(to: str, name: str, of: str, known: bool, lang: str) -> str:
    """Whom to write to, with the company's name where it reads: « au service clients de SFR »,
    « à Sunpower », « au club (Basic-Fit) »; without a name, the step alone."""
    if not known:
        return to
    if normalise(to) in ("a l entreprise", "to the company"):
        return t(lang, "route_to_name", name=name)
    if normalise(to).startswith(("au service", "to customer service", "to the water service")):
        return f"{to} {of}" if lang == "fr" else f"to {name}'s {to.removeprefix('to ')}"
    return f"{to} ({name})"


def _other_name(flow: Flow, texts: dict[str, str]) -> str | None:
    """The name of a company the directory does not know: typed at the company question (« c'est
    Zoomtel »: « Zoomtel »), else named in the description as the router reads it (« chez
    Zoomtel », « Sixt m'a débité… »)."""
    node = next(n.id for n in flow.nodes.values() if n.kind == COMPANY)
    typed = texts.get(node, "")
    if typed:
        plain = _PREFIX.sub("", typed).strip(" .!?,;")  # « Maisons du Monde », « Auto Plus »: whole
        found = named_as_typed(typed) or (plain if len(plain.split()) <= 4 else None) or capitalised_name(typed)
        return (found[:1].upper() + found[1:])[:40] if found else None
    described = texts.get(flow.classify_node or "", "")
    return next((n for n in map(named_as_typed, texts.values()) if n), None) or \
        (unlisted_name(described) if described else None)


_PREFIX = re.compile(r"^\s*(?:c'est|c’est|it's|it is|chez|avec|with|l'entreprise|la société|la societe)\s+", re.I)


def route_sources(flow: Flow, answers: dict[str, str], lang: str) -> list[str]:
    """The directory's sources behind what {route.x} said (the sector's steps, the mediator, the
    company's address or phone), one line each, « vérifié le … » only when checked there."""
    directory = flow.directory
    assert directory is not None  # called for a flow on the directory only
    _, company = company_of(flow, answers)
    sector = directory.sectors.get(company.sector if company else answers.get("sector", ""))
    mediator = directory.mediator_of(company) if company is not None else \
        directory.mediators.get(sector.mediator) if sector is not None and sector.mediator else None
    shown = [sector.fact if sector else None, mediator.fact if mediator else None]
    if company is not None:
        shown += [company.mediator, company.address, company.phone]
    lines, seen = [], set()
    for fact in shown:
        if fact is None or not fact.stated or fact.source in seen or fact.source not in directory.sources:
            continue
        seen.add(fact.source)
        entry = directory.sources[fact.source]
        title = str(entry.get("title", fact.source)) + ("" if lang == "fr" else t(lang, "in_french"))
        line = (t(lang, "source_checked_m", title=title, date=fact.verified.strftime(t(lang, "short_date_format")))
                if fact.status == "checked" else t(lang, "source_unchecked_m", title=title))
        lines.append(line + (f"{t(lang, 'colon')} {entry['url']}" if entry.get("url") else ""))
    return lines
