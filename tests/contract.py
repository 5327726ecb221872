"""What the project relies on in other packages' private code, checked from their source.

pynput's X11 listener and pystray's X11 icon are extended here through private
members (ime_agent.capture._xorg, ime_agent.ui._xorg_icon); both packages are pinned
to the versions tested. These helpers read the installed source without importing
it (importing either needs a display), so a release that renames what we use fails
a test loudly instead of breaking capture or the tray quietly.
"""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path


def source_of(module: str) -> str:
    """The file of ``module`` found from its top-level package, without importing anything."""
    top, *rest = module.split(".")
    root = Path(importlib.util.find_spec(top).origin).parent
    path = root.joinpath(*rest)
    return str(path / "__init__.py") if path.is_dir() else f"{path}.py"


def members(module: str, cls: str) -> set[str]:
    """Methods of ``cls`` in ``module`` and the ``self.x`` attributes it assigns (plus ``_receive``,
    which pynput's ``Controller._receiver`` class decorator adds)."""
    tree = ast.parse(open(source_of(module), encoding="utf-8").read())
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == cls:
            found = {item.name for item in node.body if isinstance(item, (ast.FunctionDef, ast.ClassDef))}
            if any(isinstance(d, ast.Attribute) and d.attr == "_receiver" for d in node.decorator_list):
                found.add("_receive")
            found |= {item.targets[0].id for item in node.body
                      if isinstance(item, ast.Assign) and isinstance(item.targets[0], ast.Name)}
            for inner in ast.walk(node):
                if (isinstance(inner, ast.Attribute) and isinstance(inner.value, ast.Name)
                        and inner.value.id == "self" and isinstance(inner.ctx, ast.Store)):
                    found.add(inner.attr)
            return found
    raise AssertionError(f"{module} has no class {cls}")
