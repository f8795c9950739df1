"""One Router per area of the API."""
