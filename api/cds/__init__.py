"""CDS Hooks: the `rfa-order-check` service, its cards, and the registry of trusted EHR issuers."""
