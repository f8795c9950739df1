"""Provider webhooks: the request as it arrived, signature checks and payload parsers.
Pure: no I/O, so every check is unit-tested without a network or a database."""
