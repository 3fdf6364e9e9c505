"""The audit trail: atomic writes, hashing, per-stage records, manifests, signing, the hash-chained run log,
verification, the run summary and the run's RO-Crate. Importable with the standard library plus cryptography
(signing) and rocrate (the crate) only: an auditor needs no video or detector stack to check a delivery."""
