"""French first, English on request: `?lang=en` (or `?lang=fr`) switches and is remembered in a cookie (set
by the response-headers middleware, api/security.py).

Templates call t("texte", "text"); `lang` goes to <html lang>, and `switch_href` is the same page in the
other language.
"""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import Request

LANGS = ("fr", "en")
COOKIE = "lang"

# The eligibility verdicts (ptce_kg.eligibility), as pages show them.
VERDICTS = {"eligible": ("éligible", "eligible"), "not-eligible": ("non éligible", "not eligible"),
            "incomplete": ("information insuffisante", "not enough information"),
            "met": ("remplie", "met"), "not-met": ("non remplie", "not met"),
            "not-enough-information": ("information insuffisante", "not enough information")}


def chosen(request: Request) -> str:
    asked = request.query_params.get("lang")
    if asked in LANGS:
        return asked
    remembered = request.cookies.get(COOKIE)
    return remembered if remembered in LANGS else "fr"


def context(request: Request) -> dict:
    lang = chosen(request)
    other = "en" if lang == "fr" else "fr"
    params = [(k, v) for k, v in request.query_params.multi_items() if k != "lang"] + [("lang", other)]
    switch = request.url.path + "?" + urlencode(params)
    t = (lambda fr, en: en if lang == "en" else fr)
    return {"lang": lang, "t": t, "verdict": (lambda key: t(*VERDICTS[key])), "switch_href": switch,
            "switch_label": "English" if other == "en" else "Français", "switch_lang": other,
            "path": request.url.path}

