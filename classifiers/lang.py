"""Route a segment to the English or the Chinese pipeline.

Typed Chinese is routinely mixed with Latin brand names and abbreviations
("想换个MacBook 有推荐吗"), so a segment counts as Chinese as soon as CJK
characters make up a meaningful share of its letters. One CJK character
carries about a word's worth of meaning, while a Latin word is ~5 letters, so
CJK characters are weighted up before taking the share.
"""

from __future__ import annotations

import re

LANGS = ("en", "zh")

# A segment is zh when weighted CJK share of letters reaches this.
_ZH_SHARE = 0.2
_CJK_WEIGHT = 3


_CJK = re.compile(
    "[\u4e00-\u9fff"  # CJK unified ideographs
    "\u3400-\u4dbf"  # extension A
    "\uf900-\ufaff"  # compatibility ideographs
    "\u3040-\u30ff"  # kana: not supported, the closest pipeline is zh
    "\U00020000-\U0002fa1f]"  # extensions B.. and compatibility supplement
)
_LETTER = re.compile(r"[^\W\d_]")


def detect_lang(text: str) -> str:
    """Return "zh" or "en" for one segment (English when there is no CJK)."""
    if not _CJK.search(text):
        return "en"
    cjk = len(_CJK.findall(text))
    latin = len(_LETTER.findall(text)) - cjk  # \w letters include the CJK ones
    weighted = cjk * _CJK_WEIGHT
    return "zh" if weighted / (weighted + latin) >= _ZH_SHARE else "en"
