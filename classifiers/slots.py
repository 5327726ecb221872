"""Closed-vocabulary slots for a classified segment.

Every slot value comes from the wire contract's closed vocabulary
(:data:`ime_wire.vocabulary.SLOTS`, the one source of truth): the gazetteers in
``classifiers/gazetteers/`` only map phrases to those values (a gazetteer key
outside the vocabulary is ignored), and the bands below are vocabulary values
too — never a piece of the typed text. Gazetteer phrases are matched
with spaCy's PhraseMatcher on the pipeline's own tokens (characters for zh);
numbers ("under $500", "预算3000", "5 days", "三天") are read with regexes and
mapped to a band:

- ``trip_length``: day_trip ≤ 1 day; short 2–5 days (weekend, long weekend,
  up to 4 nights); week 6–9 days; long ≥ 10 days. N nights count as N + 1 days.
- ``price_band``: budget ≤ $500 / ¥3,000; mid ≤ $1,500 / ¥8,000; premium
  above (×40 for cars); or words like "cheap", "性价比", "high-end".
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path

from spacy.language import Language
from spacy.matcher import PhraseMatcher
from spacy.tokens import Doc

from ime_wire.vocabulary import SLOTS, SLOTS_FOR

GAZETTEER_DIR = Path(__file__).resolve().parent / "gazetteers"

TRIP_LENGTHS = SLOTS["trip_length"]

# When several values of these slots match, the earlier key in this order wins
# ("一个人带孩子" is a family trip; "my son" beats the "my" that means self).
_PRIORITY_SLOTS = ("who", "party")


@cache
def _gazetteers() -> dict[str, dict[str, dict[str, list[str]]]]:
    """slot → value → lang → phrases."""

    def load(name):
        return json.loads((GAZETTEER_DIR / name).read_text(encoding="utf-8"))

    health, travel = load("health.json"), load("travel.json")
    raw = {
        "product": load("products.json"),
        "price_band": load("price.json"),
        "destination": load("places.json"),
        "party": travel["party"],
        "concern": health["concern"],
        "who": health["who"],
    }
    return {slot: {value: phrases for value, phrases in values.items() if value in SLOTS[slot]}
            for slot, values in raw.items()}


def gazetteer_phrases(slot: str, lang: str) -> list[str]:
    """Phrases of one slot's gazetteer in one language that are safe to use as
    model features (the normaliser's placeholders). A changed gazetteer
    changes the features: retrain after editing one."""
    return [t for phrases in _gazetteers()[slot].values() for t in phrases.get(lang, [])]


def _slot_phrases(phrases: dict[str, list[str]], lang: str) -> list[str]:
    """Phrases that fill a slot: the feature-safe ones plus ``<lang>_slot_only``
    ones, too ambiguous to be features ("tired", "心累") but telling once a
    segment is already classified as that label."""
    return phrases.get(lang, []) + phrases.get(f"{lang}_slot_only", [])


#: Every value each slot can take (the wire contract's, as sets).
VOCABULARY = {slot: frozenset(values) for slot, values in SLOTS.items()}

# --- numbers -----------------------------------------------------------------

_ZH_DIGITS = {"零": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6,
              "七": 7, "八": 8, "九": 9, "十": 10, "半": 0.5}
_EN_NUMBERS = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5,
               "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10, "couple of": 2,
               "a couple of": 2, "few": 3, "a few": 3, "couple": 2}
_UNIT_DAYS = {"day": 1, "night": 2, "week": 7, "month": 30, "天": 1, "日": 1, "晚": 2,
              "夜": 2, "周": 7, "个星期": 7, "星期": 7, "个礼拜": 7, "礼拜": 7, "个月": 30}
_MULT = {"k": 1_000, "K": 1_000, "千": 1_000, "w": 10_000, "W": 10_000, "万": 10_000}

_EN_TRIP = re.compile(
    r"\b(\d+|a couple of|couple of|a few|few|an?|one|two|three|four|five|six|seven|eight"
    r"|nine|ten)[\s-]*(day|night|week|month)s?\b",
    re.I,
)
_ZH_TRIP = re.compile(r"(?<![月号])(\d+|[一二两三四五六七八九十半]+)\s*(个星期|个礼拜|个月|星期|礼拜|天|日|晚|夜|周)")
_EN_TRIP_WORDS = {"day trip": "day_trip", "daytrip": "day_trip", "weekend": "short",
                  "overnight": "short", "long weekend": "short", "fortnight": "long"}
_ZH_TRIP_WORDS = {"一日游": "day_trip", "当天来回": "day_trip", "当天往返": "day_trip",
                  "周末": "short", "小长假": "short", "黄金周": "week"}

_MONEY = re.compile(
    r"(?:(?P<cur>[$€£¥￥])\s?(?P<a>\d[\d,]*(?:\.\d+)?)\s?(?P<am>[kK])?)"
    r"|(?:(?P<b>\d[\d,]*(?:\.\d+)?)\s?(?P<bm>[kKwW千万])?\s?"
    r"(?P<unit>dollars|bucks|usd|euros?|eur|pounds|gbp|rmb|cny|yuan|元|块|以内|以下|左右))",
    re.I,
)
_ZH_BUDGET = re.compile(r"预算\s*(?P<n>\d+(?:\.\d+)?|[一二两三四五六七八九十]+)\s*(?P<m>[kKwW千万])?")
_CNY_UNITS = {"rmb", "cny", "yuan", "元", "块", "以内", "以下", "左右", "¥", "￥"}

# Upper bounds (inclusive) of budget and mid; above is premium.
_BANDS_USD = (500, 1500)
_BANDS_CNY = (3000, 8000)
_CAR_FACTOR = 40  # cars cost tens of times more than a gadget


def _zh_number(s: str) -> float | None:
    if s.isdigit():
        return float(s)
    total, cur = 0.0, 0.0
    for ch in s:
        v = _ZH_DIGITS.get(ch)
        if v is None:
            return None
        if v == 10:
            total += (cur or 1) * 10
            cur = 0
        else:
            cur = v
    return total + cur


def _days_band(days: float) -> str:
    """Trip-length bands (N nights count as N + 1 days): day_trip ≤ 1 day,
    short 2–5 days (a weekend up to 4 nights), week 6–9 days, long ≥ 10 days."""
    if days <= 1:
        return "day_trip"
    if days <= 5:
        return "short"
    if days <= 9:
        return "week"
    return "long"


def trip_length(text: str, lang: str) -> str | None:
    low = text.lower()
    words = _ZH_TRIP_WORDS if lang == "zh" else _EN_TRIP_WORDS
    pattern = _ZH_TRIP if lang == "zh" else _EN_TRIP
    m = pattern.search(low) or (_EN_TRIP.search(low) if lang == "zh" else None)
    if m:
        raw, unit = m.group(1), m.group(2)
        n = _EN_NUMBERS.get(raw.lower()) or _zh_number(raw) if not raw.isdigit() else float(raw)
        if n:
            nights = unit in ("night", "晚", "夜")
            return _days_band(n + 1 if nights else n * _UNIT_DAYS[unit])
    for phrase in sorted(words, key=len, reverse=True):
        if phrase in low:
            return words[phrase]
    return None


def _amount_band(amount: float, cny: bool, product: str | None) -> str:
    low, high = _BANDS_CNY if cny else _BANDS_USD
    if product == "car":
        low, high = low * _CAR_FACTOR, high * _CAR_FACTOR
    if amount <= low:
        return "budget"
    return "mid" if amount <= high else "premium"


def price_from_amount(text: str, lang: str, product: str | None) -> str | None:
    m = _ZH_BUDGET.search(text)
    if m:
        n = _zh_number(m.group("n")) if not m.group("n").replace(".", "").isdigit() else float(m.group("n"))
        if n:
            return _amount_band(n * _MULT.get(m.group("m") or "", 1), True, product)
    m = _MONEY.search(text)
    if not m:
        return None
    number = m.group("a") or m.group("b")
    mult = _MULT.get(m.group("am") or m.group("bm") or "", 1)
    unit = (m.group("cur") or m.group("unit") or "").lower()
    try:
        amount = float(number.replace(",", "")) * mult
    except ValueError:
        return None
    cny = unit in _CNY_UNITS or (lang == "zh" and unit in ("", "k", "w"))
    return _amount_band(amount, cny, product)


# --- phrases -----------------------------------------------------------------


class SlotExtractor:
    """Fills the slots of one label from a processed Doc of one language."""

    def __init__(self, nlp: Language, lang: str):
        self.lang = lang
        self.matcher = PhraseMatcher(nlp.vocab, attr="LOWER")
        self._order: dict[str, list[str]] = {}
        for slot, values in _gazetteers().items():
            self._order[slot] = list(values)
            for value, phrases in values.items():
                terms = _slot_phrases(phrases, lang)
                if terms:
                    key = f"{slot}={value}"
                    self.matcher.add(key, [nlp.make_doc(t) for t in terms])

    def __call__(self, doc: Doc, label: str) -> dict[str, str]:
        wanted = SLOTS_FOR.get(label, ())
        if not wanted:
            return {}
        found: dict[str, list[tuple[int, int, str]]] = {}
        strings = doc.vocab.strings
        for match_id, start, end in self.matcher(doc):
            slot, value = strings[match_id].split("=", 1)
            if slot in wanted:
                found.setdefault(slot, []).append((start, start - end, value))
        slots = {}
        for slot, hits in found.items():
            if slot in _PRIORITY_SLOTS:
                order = self._order[slot]
                slots[slot] = min(hits, key=lambda h: order.index(h[2]))[2]
            else:
                slots[slot] = min(hits)[2]  # earliest, then longest
        text = doc.text
        if "price_band" in wanted:
            band = price_from_amount(text, self.lang, slots.get("product"))
            if band:
                slots["price_band"] = band
        if "trip_length" in wanted:
            length = trip_length(text, self.lang)
            if length:
                slots["trip_length"] = length
        return slots
