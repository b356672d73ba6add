"""Sourcier: a sovereign, offline assistant for French local authorities.

Importing this package first pins the process to offline, telemetry-free operation (see `offline`).
"""

from sourcier import offline

offline.apply()

__version__ = "0.1.0"
