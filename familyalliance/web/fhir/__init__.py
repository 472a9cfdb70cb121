"""The FHIR R4 API: ``/fhir/R4``, read-only searches and reads, and the import of bundles of responses."""
