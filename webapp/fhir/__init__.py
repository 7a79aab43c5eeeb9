"""The FHIR R4 read API under /fhir/: routes.py, endpoints.py (docs/contract.md#fhir-api)."""
