"""pystray's X11 icon still has every private member the tray's X11 backend relies on."""

from contract import members
from ime_agent.ui._xorg_icon import PYSTRAY_MEMBERS


def test_pystray_xorg_icon_has_what_the_tray_relies_on():
    missing = set(PYSTRAY_MEMBERS) - members("pystray._xorg", "Icon")
    assert not missing, f"pystray changed: {sorted(missing)} are gone; re-check ime_agent/ui/_xorg_icon.py"


def test_the_check_itself_can_fail():
    assert "_no_such_member" not in members("pystray._xorg", "Icon")
