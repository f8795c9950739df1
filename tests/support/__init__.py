"""Shared test helpers: builders, drivers, clients and samples the tiers share. Test
modules import from here, never from one another or from a conftest."""
