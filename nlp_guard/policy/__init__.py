"""Policy packs: versioned categories, citations and rules."""
from .loader import apply_overlay, default_policy, load_overlay, load_policy
from .schema import CATEGORY_CODES, Overlay, PolicyPack, Rule

__all__ = ["CATEGORY_CODES", "Overlay", "PolicyPack", "Rule", "apply_overlay", "default_policy", "load_overlay", "load_policy"]
