"""Per-clinic policy profiles and their validation (CR-21, CR-23, CR-24, CR-26, CR-28)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from types import MappingProxyType
from typing import Any, TypeGuard

__all__ = [
    "AGENTS",
    "PROFILES",
    "Policy",
    "PolicyError",
    "build_policy",
    "policy_from_dict",
    "policy_to_dict",
    "profile_defaults",
    "required_minutes_for",
]

PROFILES: tuple[str, ...] = ("medicare", "consensus", "strict", "custom")
AGENTS: tuple[str, ...] = ("lidocaine", "bupivacaine", "ropivacaine", "saline_placebo", "other")

# CR-21: the profile fixes the threshold; only `custom` lets the clinic choose it.
PROFILE_THRESHOLDS: Mapping[str, int] = MappingProxyType({"medicare": 80, "consensus": 50, "strict": 100})
# CR-26: the profile fixes blocks_required too (custom chooses; 2 unless it says 1). CR-24: the profile
# only proposes enforce_coverage_criteria; the setting alone decides, whatever the profile.
PROFILE_BLOCKS_REQUIRED: Mapping[str, int] = MappingProxyType({"medicare": 2, "consensus": 1, "strict": 2})
PROFILE_ENFORCES_COVERAGE: Mapping[str, bool] = MappingProxyType(
    {"medicare": True, "consensus": False, "strict": False, "custom": False}
)
DEFAULT_REQUIRED_MINUTES: Mapping[str, int] = MappingProxyType(
    {"lidocaine": 60, "bupivacaine": 180, "ropivacaine": 180}
)
DEFAULT_MIN_BASELINE: Mapping[str, int] = MappingProxyType({"nrs": 4, "vas": 40})

# Sane ranges for the integer settings; bounds inclusive.
_INT_RANGES: Mapping[str, tuple[int, int]] = MappingProxyType(
    {
        "min_readings": (1, 50),
        "onset_window_minutes": (1, 1440),
        "diary_horizon_hours": (1, 168),
        "min_gap_hours": (0, 8760),
        "max_pair_interval_days": (1, 3650),
        "repeat_rfa_threshold_pct": (1, 100),
        # CR-28: the follow-up diary runs to 400 days, so a durable response cannot be asked to last longer.
        "repeat_rfa_min_days": (1, 400),
    }
)
_BOOLEANS = ("require_concordance", "enforce_coverage_criteria", "enforce_pair_interval")
_NESTED_RANGES: Mapping[str, Mapping[str, tuple[int, int]]] = MappingProxyType(
    {
        "required_minutes": {agent: (1, 1440) for agent in DEFAULT_REQUIRED_MINUTES},
        "min_baseline": {"nrs": (0, 10), "vas": (0, 100)},
    }
)


def _frozen(mapping: Mapping[str, int]) -> Mapping[str, int]:
    return MappingProxyType(dict(mapping))


@dataclass(frozen=True)
class Policy:
    """The settings every verdict and level status is computed under (CR-21)."""

    profile: str = "medicare"
    version: int = 1
    threshold_pct: int = 80
    min_readings: int = 2
    onset_window_minutes: int = 60
    required_minutes: Mapping[str, int] = field(default_factory=lambda: _frozen(DEFAULT_REQUIRED_MINUTES))
    diary_horizon_hours: int = 24
    min_gap_hours: int = 24
    min_baseline: Mapping[str, int] = field(default_factory=lambda: _frozen(DEFAULT_MIN_BASELINE))
    require_concordance: bool = False
    blocks_required: int = 2  # CR-26
    enforce_coverage_criteria: bool = True  # CR-24
    max_pair_interval_days: int = 180  # CR-23
    enforce_pair_interval: bool = False  # CR-23
    repeat_rfa_threshold_pct: int = 50  # CR-28
    repeat_rfa_min_days: int = 180  # CR-28
    # CR-30: not a policy setting but the clinic's; carried here because every sentence stored with a
    # verdict is written in it, and changing it re-renders them like a policy change re-evaluates.
    time_zone: str = "UTC"

    def __post_init__(self) -> None:
        # A frozen dataclass holding a plain dict could still be mutated through it; copy read-only.
        object.__setattr__(self, "required_minutes", _frozen(self.required_minutes))
        object.__setattr__(self, "min_baseline", _frozen(self.min_baseline))

    def __hash__(self) -> int:
        # Read-only mapping views are not hashable themselves; their items are, and cannot change.
        values = (getattr(self, f.name) for f in fields(self))
        return hash(tuple(tuple(sorted(v.items())) if isinstance(v, Mapping) else v for v in values))


class PolicyError(ValueError):
    """An invalid profile or override; `field` names it (dotted for nested keys)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def _is_int(value: object) -> TypeGuard[int]:
    # bool is an int subclass in Python, but `true` is not a number of minutes.
    return isinstance(value, int) and not isinstance(value, bool)


def _check_int(name: str, value: object, low: int, high: int) -> int:
    if not _is_int(value):
        raise PolicyError(name, f"must be a whole number from {low} to {high}, got {value!r}")
    if not low <= value <= high:
        raise PolicyError(name, f"must be from {low} to {high}, got {value}")
    return value


def _merge_nested(name: str, value: object, current: Mapping[str, int]) -> Mapping[str, int]:
    """A partial mapping merged onto the defaults, each key checked."""
    if not isinstance(value, Mapping):
        raise PolicyError(name, f"must be an object with keys {', '.join(current)}")
    ranges = _NESTED_RANGES[name]
    merged = dict(current)
    for key, item in value.items():
        if key not in ranges:
            raise PolicyError(f"{name}.{key}", f"unknown key; use {', '.join(ranges)}")
        low, high = ranges[key]
        merged[key] = _check_int(f"{name}.{key}", item, low, high)
    return _frozen(merged)


def _threshold(profile: str, value: object) -> int:
    if profile == "custom":
        if value is None:
            raise PolicyError("threshold_pct", "profile 'custom' needs a threshold_pct from 1 to 100")
        return _check_int("threshold_pct", value, 1, 100)
    fixed = PROFILE_THRESHOLDS[profile]
    return _fixed_by_profile("threshold_pct", profile, value, fixed, f"the threshold at {fixed}%")


def _blocks_required(profile: str, value: object) -> int:
    """CR-26: 1 or 2 positive blocks; fixed by every profile but `custom`."""
    if profile == "custom":
        return 2 if value is None else _check_int("blocks_required", value, 1, 2)
    fixed = PROFILE_BLOCKS_REQUIRED[profile]
    return _fixed_by_profile("blocks_required", profile, value, fixed, f"blocks_required at {fixed}")


def _fixed_by_profile(field: str, profile: str, value: object, fixed: int, what: str) -> int:
    """`fixed`, the profile's own value: any other value given for `field` is refused, naming the field."""
    if value is not None and (not _is_int(value) or value != fixed):
        raise PolicyError(field, f"profile {profile!r} fixes {what}; use profile 'custom' for another")
    return fixed


def profile_defaults(profile: str) -> dict[str, Any]:
    """The settings a profile brings beyond Policy()'s (which are medicare's): CR-24 and CR-26."""
    return {
        "blocks_required": PROFILE_BLOCKS_REQUIRED.get(profile, 2),
        "enforce_coverage_criteria": PROFILE_ENFORCES_COVERAGE.get(profile, False),
    }


def build_policy(profile: str, overrides: Mapping[str, object], version: int = 1) -> Policy:
    """CR-21: a validated policy from a profile and overrides; a None override means 'the default'."""
    if profile not in PROFILES:
        raise PolicyError("profile", f"unknown profile {profile!r}; use one of {', '.join(PROFILES)}")
    if not _is_int(version) or version < 1:
        raise PolicyError("version", f"must be a whole number of at least 1, got {version!r}")
    given = {key: value for key, value in overrides.items() if value is not None}
    values: dict[str, Any] = {"profile": profile, "version": version, **profile_defaults(profile)}
    values["threshold_pct"] = _threshold(profile, given.pop("threshold_pct", None))
    values["blocks_required"] = _blocks_required(profile, given.pop("blocks_required", None))
    defaults = Policy()
    for key, value in given.items():
        if key in _INT_RANGES:
            values[key] = _check_int(key, value, *_INT_RANGES[key])
        elif key in _NESTED_RANGES:
            values[key] = _merge_nested(key, value, getattr(defaults, key))
        elif key in _BOOLEANS:
            if not isinstance(value, bool):
                raise PolicyError(key, f"must be true or false, got {value!r}")
            values[key] = value
        else:
            raise PolicyError(key, "unknown policy setting")
    return Policy(**values)


def policy_to_dict(p: Policy) -> dict[str, Any]:
    """JSON-ready, the shape of GET /v1/policy."""
    return {
        "profile": p.profile,
        "version": p.version,
        "threshold_pct": p.threshold_pct,
        "min_readings": p.min_readings,
        "onset_window_minutes": p.onset_window_minutes,
        "required_minutes": dict(p.required_minutes),
        "diary_horizon_hours": p.diary_horizon_hours,
        "min_gap_hours": p.min_gap_hours,
        "min_baseline": dict(p.min_baseline),
        "require_concordance": p.require_concordance,
        "blocks_required": p.blocks_required,
        "enforce_coverage_criteria": p.enforce_coverage_criteria,
        "max_pair_interval_days": p.max_pair_interval_days,
        "enforce_pair_interval": p.enforce_pair_interval,
        "repeat_rfa_threshold_pct": p.repeat_rfa_threshold_pct,
        "repeat_rfa_min_days": p.repeat_rfa_min_days,
    }


def policy_from_dict(d: Mapping[str, Any]) -> Policy:
    """Inverse of policy_to_dict for trusted stored data; keys missing from older rows take the defaults
    of the row's profile (a `consensus` row from before CR-26 needs one block, not medicare's two)."""
    known = {key: d[key] for key in policy_to_dict(Policy()) if key in d}
    for key in ("required_minutes", "min_baseline"):
        if key in known:
            known[key] = {**getattr(Policy(), key), **known[key]}
    return Policy(**{**profile_defaults(known.get("profile", "medicare")), **known})


def required_minutes_for(agent: str, expected_relief_minutes: int | None, policy: Policy) -> int:
    """The CR-10 preamble: how long relief must last for this agent."""
    if agent in policy.required_minutes:
        return policy.required_minutes[agent]
    if expected_relief_minutes is not None and expected_relief_minutes < 1:
        raise ValueError(f"expected_relief_minutes must be at least 1, got {expected_relief_minutes}")
    if agent == "other":
        # The minutes given on the block are mandatory for `other`: nothing else says how long it acts.
        if expected_relief_minutes is None:
            raise ValueError("agent 'other' needs expected_relief_minutes")
        return expected_relief_minutes
    if agent == "saline_placebo":
        # A placebo is judged as if it were the short-acting agent, unless the block says otherwise.
        if expected_relief_minutes is None:
            return policy.required_minutes["lidocaine"]
        return expected_relief_minutes
    raise ValueError(f"unknown agent {agent!r}; use one of {', '.join(AGENTS)}")
