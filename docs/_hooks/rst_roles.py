"""A griffe extension for the API reference: the docstrings' reST roles become Markdown cross-references.

The package's docstrings are written for a reader of the source (``:class:`~vision_async.VisionClient```,
``:meth:`aclose```, ``text::`` before a literal block); mkdocstrings renders Markdown. This turns each
role into an autorefs link to the public name (``[`VisionClient`][vision_async.VisionClient]``): a
short name is looked up among the members of the class the docstring belongs to, then among the
public names of ``vision_async`` and its public modules. ``mkdocs build --strict`` fails on a
reference the site does not document. ``text::`` becomes ``text:``. Undocumented attributes that a
class's ``__init__`` copies from its parameters are left out (the signature shows them), and so are
undocumented dunder methods.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

PUBLIC_MODULES = (
    "vision_async",
    "vision_async.v4",
    "vision_async.batch",
    "vision_async.redis",
    "vision_async.spark",
    "vision_async.testing",
    "vision_async.emulator",
    "vision_async.cli",
)

_ROLE = re.compile(r":(?:class|func|meth|mod|attr|exc|data|obj):`(~?)([\w.]+)(\(\))?`")
_LITERAL_INTRO = re.compile(r"(\S)::$", re.MULTILINE)
_BARE_LITERAL_INTRO = re.compile(r"^(\s*)::$", re.MULTILINE)


def public_names(pkg: griffe.Module) -> dict[str, str]:
    """Short name -> public path, and canonical path (where it is defined) -> public path.

    Read from the loaded package (each public module's ``__all__``), without importing it: building
    the docs needs no extra but ``docs``.
    """
    names: dict[str, str] = {}
    for module_name in reversed(PUBLIC_MODULES):  # vision_async's own names win
        module = pkg if module_name == pkg.path else pkg[module_name.removeprefix(pkg.path + ".")]
        names[module_name] = module_name
        for export in module.exports or ():
            name = str(export)
            public = f"{module_name}.{name}"
            names[name] = public
            member = module.members.get(name)
            if member is not None:
                names[member.target_path if member.is_alias else member.path] = public
    return names


def _scope(obj: griffe.Object) -> griffe.Object | None:
    """The class whose members a short name may be (the object itself, or the class it is in)."""
    if obj.is_class:
        return obj
    parent = obj.parent
    return parent if isinstance(parent, griffe.Object) and parent.is_class else None


def resolve(target: str, names: dict[str, str], obj: griffe.Object | None = None) -> str | None:
    """The public path to link to, or None for a private name of the docstring's own module."""
    if target in names:
        return names[target]
    head, _, rest = target.partition(".")
    scope = _scope(obj) if obj is not None else None
    if scope is not None and head in scope.members:
        owner = names.get(scope.path) or names.get(scope.name, scope.path)
        return f"{owner}.{target}"
    if head in names:
        return f"{names[head]}.{rest}" if rest else names[head]
    for canonical, public in names.items():  # vision_async._v32.models.X.y -> vision_async.X.y
        if target.startswith(canonical + "."):
            return public + target[len(canonical) :]
    if obj is not None and head in obj.module.members:
        return None  # a helper the reference does not document: shown as code, not linked
    return target  # unknown: left as a link, so that the strict build names it


def convert(text: str, names: dict[str, str], obj: griffe.Object | None = None) -> str:
    """Rewrite reST roles and literal-block introductions into Markdown."""

    def link(match: re.Match[str]) -> str:
        short, target, call = match.group(1), match.group(2), match.group(3) or ""
        shown = target.rsplit(".", 1)[-1] if short else target
        path = resolve(target, names, obj)
        return f"`{shown}{call}`" if path is None else f"[`{shown}{call}`][{path}]"

    text = _ROLE.sub(link, text)
    text = _LITERAL_INTRO.sub(r"\1:", text)
    return _BARE_LITERAL_INTRO.sub(r"\1", text)


def _state_set_in_init(cls: griffe.Object) -> list[str]:
    """Undocumented attributes that ``__init__`` copies from its parameters: the signature shows them."""
    init = cls.members.get("__init__")
    if init is None or init.is_alias or init.lineno is None or init.endlineno is None:
        return []
    parameters = {p.name for p in init.parameters} if isinstance(init, griffe.Function) else set()
    return [
        name
        for name, member in cls.members.items()
        if not member.is_alias
        and member.is_attribute
        and member.docstring is None
        and name in parameters
        and member.lineno is not None
        and init.lineno <= member.lineno <= init.endlineno
    ]


def _plain_dunders(cls: griffe.Object) -> list[str]:
    """``__repr__``, ``__aenter__`` and the like without a docstring of their own: protocol, not API."""
    return [
        name
        for name, member in cls.members.items()
        if name.startswith("__") and name.endswith("__") and name != "__init__" and member.docstring is None
    ]


def _walk(obj: griffe.Object, names: dict[str, str]) -> None:
    if obj.docstring is not None:
        obj.docstring.value = convert(obj.docstring.value, names, obj)
    if obj.is_class:
        for name in _state_set_in_init(obj) + _plain_dunders(obj):
            del obj.members[name]
    for member in list(obj.members.values()):
        if not member.is_alias and isinstance(member, griffe.Object):
            _walk(member, names)


class RstRoles(griffe.Extension):
    """Convert every docstring once the package is loaded (a class's members are known by then)."""

    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        _walk(pkg, public_names(pkg))
