"""The pure domain: no drivers, no SDKs, no I/O. Everything here runs in microseconds."""
