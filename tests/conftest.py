"""Every test tier runs as the local stage (tether.config.StageSettings): `local:` secret
references, the sandbox provider and custom provider URLs are accepted only there. A
test of another stage sets TETHER_STAGE itself and clears `stage_settings`."""

from __future__ import annotations

import os

os.environ.setdefault("TETHER_STAGE", "local")
