"""Every default of ime-agent, defined once.

Config (:mod:`ime_agent.config`) starts from these; capture, the store and the
agent take their values from the config, never from literals of their own.
"""

from __future__ import annotations

#: Seconds without typing after which a segment is finished.
IDLE_COMMIT_SECONDS = 10.0
IDLE_COMMIT_RANGE = (0.1, 3600.0)
#: Days a summary is kept on the device; the consent text promises 30 at most.
RETENTION_DAYS = 30
RETENTION_RANGE = (1, 30)
#: The longest text a segment holds; longer typing is committed in pieces (reason ``length``).
MAX_SEGMENT_CHARS = 20_000

# Apps whose typing is never captured. Password managers hold secrets; terminal
# emulators are where sudo, ssh and gpg prompts take passwords without any
# secure-field flag. Matched case-insensitively against the app id (WM_CLASS on X11,
# bundle id on macOS, executable name on Windows, application name on the accessibility bus).
DENIED_APPS = (
    # password managers and secret prompts
    "keepassxc", "org.keepassxc.keepassxc", "keepass", "keepass2", "1password", "bitwarden", "lastpass",
    "enpass", "dashlane", "seahorse", "gcr-prompter", "pinentry", "pinentry-gtk-2", "pinentry-gnome3",
    "pinentry-qt", "ssh-askpass", "ksshaskpass", "polkit-gnome-authentication-agent-1",
    "org.kde.polkit-kde-authentication-agent-1",
    # the same on macOS (bundle ids)
    "com.1password.1password", "com.agilebits.onepassword7", "com.agilebits.onepassword-osx",
    "com.bitwarden.desktop", "com.apple.keychainaccess", "com.apple.passwords", "in.sinew.enpass-desktop",
    "com.lastpass.lastpassmacdesktop", "com.dashlane.dashlanephonefinal",
    # terminal emulators
    "gnome-terminal", "gnome-terminal-server", "org.gnome.terminal", "org.gnome.console",
    "kgx", "konsole", "org.kde.konsole", "xterm", "uxterm", "urxvt", "rxvt",
    "alacritty", "kitty", "foot", "wezterm", "org.wezfurlong.wezterm", "tilix",
    "com.gexperts.tilix", "terminator", "xfce4-terminal", "lxterminal",
    "mate-terminal", "qterminal", "st", "st-256color", "sakura", "guake",
    "tilda", "yakuake", "terminology", "cool-retro-term", "ghostty",
    "com.mitchellh.ghostty", "terminal", "iterm2", "com.apple.terminal",
    "com.googlecode.iterm2", "windowsterminal", "cmd", "powershell", "conhost",
    "putty", "mintty",
)

# Window titles that mark a password prompt where the system reports no secure field
# (X11 without the accessibility bus). Matched case-insensitively as substrings.
SECURE_TITLE_PATTERNS = (
    "password", "passphrase", "passwort", "mot de passe", "contraseña", "pin code",
    "sign in", "sign-in", "signin", "log in", "log-in", "login", "unlock",
    "authenticate", "authentication", "sudo", "pinentry", "askpass", "2fa",
    "one-time code", "verification code", "密码", "登录", "登陆", "解锁", "验证码",
)

#: How long a summary waits on the device before a study's upload (the manifest may say otherwise).
SYNC_INTERVAL_SECONDS = 15 * 60
SYNC_BATCH_SUMMARIES = 100
