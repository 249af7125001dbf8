"""Load, validate and overlay policy packs."""
from __future__ import annotations

from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from ..errors import PolicyError
from .schema import Overlay, PolicyPack

DEFAULT_PACK = "policy.yaml"


def _read_yaml(text: str, where: str) -> Any:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise PolicyError(f"{where}: not valid YAML{at}: {getattr(exc, 'problem', exc)}") from exc
    if not isinstance(data, dict):
        raise PolicyError(f"{where}: the top level must be a mapping of keys, got {type(data).__name__}")
    return data


def _explain(exc: ValidationError, where: str) -> PolicyError:
    lines = []
    for err in exc.errors()[:10]:
        loc = ".".join(str(p) for p in err["loc"]) or "(top level)"
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown field; remove it or check its spelling"
        elif err["type"] == "missing":
            msg = "required field is missing"
        lines.append(f"  {loc}: {msg}")
    more = f"\n  … and {len(exc.errors()) - 10} more" if len(exc.errors()) > 10 else ""
    return PolicyError(f"{where} does not validate:\n" + "\n".join(lines) + more)


def _validate(model: type[BaseModel], data: dict[str, Any], where: str) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise _explain(exc, where) from None


def load_policy(path: str | Path | None = None) -> PolicyPack:
    """Load a pack from ``path``, or the bundled default pack."""
    if path is None:
        return default_policy()
    p = Path(path)
    try:
        text = p.read_text("utf-8")
    except FileNotFoundError:
        raise PolicyError(f"policy file {p} does not exist") from None
    except UnicodeDecodeError as exc:
        raise PolicyError(f"policy file {p} is not UTF-8 (byte {exc.start})") from None
    return _validate(PolicyPack, _read_yaml(text, str(p)), str(p))


@lru_cache(maxsize=1)
def default_policy() -> PolicyPack:
    text = resources.files("nlp_guard.data").joinpath(DEFAULT_PACK).read_text("utf-8")
    return _validate(PolicyPack, _read_yaml(text, DEFAULT_PACK), DEFAULT_PACK)


def load_overlay(source: str | Path | dict[str, Any]) -> Overlay:
    if isinstance(source, dict):
        return _validate(Overlay, source, "overlay")
    p = Path(source)
    if not p.exists():
        raise PolicyError(f"overlay file {p} does not exist")
    return _validate(Overlay, _read_yaml(p.read_text("utf-8"), str(p)), str(p))


def apply_overlay(pack: PolicyPack, overlay: Overlay) -> PolicyPack:
    """A new pack with the tenant's changes; the base pack is not modified."""
    data = pack.model_dump()
    known_rules = {r["id"] for r in data["rules"]}
    for rid in list(overlay.add_phrases) + overlay.disable_rules:
        if rid not in known_rules:
            raise PolicyError(f"overlay for tenant {overlay.tenant!r} names unknown rule {rid!r}")
    rules = []
    for r in data["rules"]:
        if r["id"] in overlay.disable_rules:
            continue
        if r["id"] in overlay.add_phrases:
            if not r["phrases"]:
                raise PolicyError(f"overlay adds phrases to rule {r['id']!r}, which is not a phrase rule")
            r["phrases"] = r["phrases"] + overlay.add_phrases[r["id"]]
        rules.append(r)
    rules += [r.model_dump() for r in overlay.add_rules]
    data["rules"] = rules
    data["allow_list"] = data["allow_list"] + overlay.allow_list
    for cat, th in overlay.thresholds.items():
        data["categories"][cat]["threshold"] = th
    for cat, action in overlay.actions.items():
        if cat not in data["categories"]:
            raise PolicyError(f"overlay sets an action for unknown category {cat!r}")
        data["categories"][cat]["action"] = action
    data["debt_facts"]["platforms"] = data["debt_facts"]["platforms"] + overlay.platforms
    if overlay.profile:
        data["profile"] = overlay.profile
    if overlay.contact:
        data["contact"] = overlay.contact.model_dump()
    data["version"] = f"{pack.version}+{overlay.tenant}.{overlay.version}"
    return _validate(PolicyPack, data, f"pack with overlay for tenant {overlay.tenant!r}")
