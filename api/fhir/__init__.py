"""FHIR R4 read API (`/fhir/R4`): pure builders from service-layer records, bundles and the routes."""
