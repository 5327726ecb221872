"""What the participant sees: the tray icon and its windows.

- :mod:`ime_agent.ui.icons` — one icon per agent state, distinguishable by shape
- :mod:`ime_agent.ui.tray` — the tray icon and its menu (pystray), a view over the agent
- :mod:`ime_agent.ui._xorg_icon` — the X11 tray backend's click-and-dock fix
- :mod:`ime_agent.ui.tk` — running a Tk window on a thread of its own
- :mod:`ime_agent.ui.consent_window`, :mod:`ime_agent.ui.review_window` — the dialogs

Nothing here decides anything: the agent does, and these only show and ask.
"""
