"""The one place where the process is made offline and telemetry-free.

Third-party libraries read these variables at import time, so `apply()` runs when `sourcier` is first
imported, before any of them. Values already set by the operator are kept (`setdefault`), except the
ones that would let data or usage statistics leave the server.
"""

import os

_FORCED = {
    # Never reach a model hub: models come from PyPI packages, converted locally.
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    # unstructured pings a usage-telemetry host at import unless told not to.
    "DO_NOT_TRACK": "true",
    "SCARF_NO_ANALYTICS": "true",
    # Chroma (posthog) telemetry.
    "ANONYMIZED_TELEMETRY": "False",
    # OpenTelemetry exporters (FastAPI configures them from the environment when asked to).
    "OTEL_SDK_DISABLED": "true",
    "FASTAPI_OTEL_AUTO_CONFIGURE": "false",
}

_DEFAULTS = {
    "UNSTRUCTURED_DISABLE_NOTICE": "1",
    "TOKENIZERS_PARALLELISM": "false",
}


def apply() -> None:
    os.environ.update(_FORCED)
    for key, value in _DEFAULTS.items():
        os.environ.setdefault(key, value)
