"""Errors grouped by who must act on them.

- `DocumentError`: a single document cannot be read; the run goes on and the report says why.
- `ConfigurationError`: the operator must fix a setting or install something.
- `StoreUnavailableError`: the vector store cannot be reached; nothing can be done until it is.
"""


class SourcierError(Exception):
    """Base class; `str(error)` is a French message meant for the person who must act."""


class DocumentError(SourcierError):
    """A document could not be ingested (corrupt, encrypted, empty, unsupported...)."""


class UnsupportedFormatError(DocumentError):
    pass


class ConfigurationError(SourcierError):
    pass


class ModelUnavailableError(ConfigurationError):
    pass


class StoreUnavailableError(SourcierError):
    pass
