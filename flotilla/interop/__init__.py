"""Standards in and out: FHIR SANER, OASIS EDXL-HAVE and EDXL-RM (docs/interoperability.md)."""
