"""pynput's X11 listener still has every private member the X11 capture source relies on."""

from contract import members
from ime_agent.capture._xorg import PYNPUT_MEMBERS


def test_pynput_xorg_listener_has_what_capture_relies_on():
    found = members("pynput.keyboard._xorg", "Listener") | members("pynput._util.xorg", "ListenerMixin") \
        | members("pynput._util", "AbstractListener")
    missing = set(PYNPUT_MEMBERS) - found
    assert not missing, f"pynput changed: {sorted(missing)} are gone; re-check ime_agent/capture/_xorg.py"
