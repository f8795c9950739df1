"""Development tools beside the Lambda layer, never in it: the command line
(``python -m tether_dev``), the local stack, the provider sandbox and scratch databases.
The Makefile puts ``dev/`` on the virtual environment's path; the layer imports nothing
from here."""
