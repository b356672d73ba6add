"""The one place where the process is made offline and telemetry-free.

Third-party libraries read these variables at import time, so `apply()` runs when `sourcier` is first
imported, before any of them. Values already set by the operator are kept (`setdefault`), except the
ones that would let data or usage statistics leave the server.
"""

import os
import sys

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


# Modules that send usage statistics whatever the settings: made unimportable. `import openvino` sends a Google
# Analytics event through `openvino_telemetry` (a dependency of the wheel) unless that import fails, in which case
# OpenVINO uses its own silent stub (found by tests/test_crash_and_offline.py).
_BLOCKED_MODULES = ("openvino_telemetry",)


def apply() -> None:
    os.environ.update(_FORCED)
    for key, value in _DEFAULTS.items():
        os.environ.setdefault(key, value)
    for module in _BLOCKED_MODULES:
        sys.modules[module] = None  # type: ignore[assignment]  # `import` then raises ImportError
