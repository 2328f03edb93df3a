"""The `Prefer` request header (RFC 7240)."""

RESPOND_ASYNC = "respond-async"


def preferences(header: str | None) -> set[str]:
    """The preference names a `Prefer` header asks for, lower-cased (their values and parameters are
    not needed here), e.g. `respond-async, wait=10` -> {"respond-async", "wait"}."""
    if not header:
        return set()
    names = (item.split(";", 1)[0].split("=", 1)[0].strip().lower() for item in header.split(","))
    return {name for name in names if name}
