"""Service functions: what handlers call. Each takes a unit of work and commits once."""
