"""Closed vocabularies: every value a summary may carry, as plain data.

This module is the one source of truth. The agent's classifier fills slots only
with these values (its gazetteers map phrases to them), the agent refuses to
store anything else, and the collector's researchers validate every value they
decrypt against the same lists. Changing a list is a schema change: bump
:data:`ime_wire.SCHEMA_VERSION`.
"""

from __future__ import annotations

from types import MappingProxyType

#: The categories a participant can consent to and a study can collect.
CATEGORIES = ("purchase", "travel", "health")
#: What the classifier can answer; ``none`` is counted on the device and never sent.
INTENTS = (*CATEGORIES, "none")
LANGS = ("en", "zh")

#: The slots each category may fill.
SLOTS_FOR = MappingProxyType({
    "purchase": ("product", "price_band"),
    "travel": ("destination", "trip_length", "party"),
    "health": ("concern", "who"),
    "none": (),
})

_PRODUCTS = (
    "laptop", "desktop_computer", "phone", "tablet", "tv", "headphones", "camera", "watch",
    "game_console", "appliance", "furniture", "clothing", "shoes", "bag", "beauty", "jewelry",
    "car", "bike", "groceries", "toys", "home_goods",
)
# Countries, and regions for plans that name no country; never cities (too identifying).
_DESTINATIONS = (
    "China", "Hong Kong", "Macau", "Taiwan", "Japan", "South Korea", "Thailand", "Vietnam",
    "Singapore", "Malaysia", "Indonesia", "Philippines", "Cambodia", "Maldives", "Sri Lanka",
    "India", "Nepal", "United Arab Emirates", "Turkey", "Egypt", "Morocco", "South Africa",
    "Kenya", "United Kingdom", "Ireland", "France", "Italy", "Spain", "Portugal", "Germany",
    "Netherlands", "Switzerland", "Austria", "Czech Republic", "Greece", "Iceland", "Norway",
    "Sweden", "Finland", "Denmark", "Croatia", "Hungary", "Russia", "United States", "Canada",
    "Mexico", "Peru", "Brazil", "Argentina", "Chile", "Cuba", "Australia", "New Zealand", "Fiji",
    "Mongolia", "Europe", "Southeast Asia", "Caribbean", "Middle East", "Africa", "Antarctica",
)

#: Every value each slot can take.
SLOTS = MappingProxyType({
    "product": _PRODUCTS,
    # budget <= $500 / CNY 3,000; mid <= $1,500 / CNY 8,000; premium above (x40 for cars)
    "price_band": ("budget", "mid", "premium"),
    "destination": _DESTINATIONS,
    # day_trip <= 1 day; short 2-5 days; week 6-9 days; long >= 10 days (N nights = N + 1 days)
    "trip_length": ("day_trip", "short", "week", "long"),
    "party": ("business", "family", "couple", "friends", "solo"),
    "concern": (
        "sleep", "pain", "fever", "respiratory", "digestion", "nutrition", "fitness",
        "mental_wellbeing", "skin", "allergy", "dental", "eyes", "heart_blood", "reproductive",
        "medication",
    ),
    "who": ("child", "parent", "other", "self"),
})

#: What a slot means, for codebooks and the consent text.
SLOT_DESCRIPTIONS = MappingProxyType({
    "product": "kind of product being considered",
    "price_band": "price range mentioned: budget, mid or premium",
    "destination": "country or region of the trip",
    "trip_length": "length of the trip: day_trip (1 day), short (2-5), week (6-9), long (10+ days)",
    "party": "who travels: business, family, couple, friends or solo",
    "concern": "area of health concerned",
    "who": "whose health: self, child, parent or other",
})

# --- app categories -----------------------------------------------------------------------

#: The only trace of which app the text was typed in.
APP_CATEGORIES = ("browser", "chat", "email", "office", "code", "other")

# App ids (WM_CLASS on X11, bundle ids on macOS, exe names on Windows, AT-SPI application
# names on Linux), case-folded.
APP_IDS = MappingProxyType({
    "browser": frozenset({
        "firefox", "firefox-esr", "org.mozilla.firefox", "navigator", "chromium", "chromium-browser",
        "google-chrome", "chrome", "brave-browser", "microsoft-edge", "msedge", "opera", "vivaldi",
        "epiphany", "org.gnome.epiphany", "safari", "com.apple.safari", "librewolf", "falkon",
    }),
    "chat": frozenset({
        "org.telegram.desktop", "telegram-desktop", "telegram", "slack", "wechat", "weixin", "discord",
        "signal", "signal-desktop", "element", "whatsapp", "teams", "microsoft teams", "skype", "zoom",
        "qq", "dingtalk", "feishu", "lark", "com.tencent.xinwechat", "com.tinyspeck.slackmacgap",
    }),
    "email": frozenset({
        "thunderbird", "org.mozilla.thunderbird", "evolution", "geary", "org.gnome.geary", "kmail",
        "mailspring", "outlook", "com.apple.mail", "mail",
    }),
    "office": frozenset({
        "libreoffice", "soffice", "winword", "excel", "powerpnt", "onenote", "com.apple.iwork.pages",
        "pages", "numbers", "keynote", "abiword", "gnumeric", "notion", "obsidian", "gedit",
        "org.gnome.texteditor", "mousepad", "kate", "kwrite", "textedit", "notepad",
    }),
    "code": frozenset({
        "code", "code-oss", "vscodium", "com.microsoft.vscode", "sublime_text", "emacs", "vim", "gvim",
        "nvim", "neovim", "atom", "zed", "dev.zed.zed", "geany", "kdevelop", "xcode",
    }),
})
APP_ID_PREFIXES = (("libreoffice", "office"), ("jetbrains-", "code"), ("org.kde.kmail", "email"))


def app_category(app: str | None) -> str:
    """The coarse category of an app id; the id itself never leaves the device."""
    if not app:
        return "other"
    folded = app.casefold()
    for category, apps in APP_IDS.items():
        if folded in apps:
            return category
    for prefix, category in APP_ID_PREFIXES:
        if folded.startswith(prefix):
            return category
    return "other"


def allowed_slots(intent: str) -> tuple[str, ...]:
    return SLOTS_FOR.get(intent, ())


def closed_slots(intent: str, slots) -> dict[str, str]:
    """Only the slots ``intent`` may fill, with values from :data:`SLOTS`: whatever a
    classifier returns, nothing it copied from the text gets through."""
    if not slots:
        return {}
    allowed = SLOTS_FOR.get(intent, ())
    return {str(k): str(v) for k, v in dict(slots).items()
            if k in allowed and str(v) in SLOTS[k]}
