"""Errors grouped by who must act on them; `str(error)` is a French message meant for that person.

- `InputError`: the user's input (a document, an upload, a question) cannot be used; the user fixes it. A document
  that cannot be read is one of these: the run goes on and the report says why.
- `ConfigurationError`: the operator must fix a setting or install something.
- `ServiceUnavailableError`: a service Sourcier depends on does not answer (the vector store, the LLM) or is busy
  (an ingestion already running); retry later, or the operator restarts it.
- Anything else is a bug: logged with its traceback, shown as a generic message.
"""


class SourcierError(Exception):
    """Base class of every error Sourcier expects; the message says what to do, in French."""


# --- the user's input -------------------------------------------------------------------------------


class InputError(SourcierError):
    pass


class DocumentError(InputError):
    """A document could not be ingested (corrupt, encrypted, empty, unsupported...)."""


class UnsupportedFormatError(DocumentError):
    pass


class LimitExceededError(DocumentError):
    """A document passes a per-file limit (pages, OCR, unpacked size, parse time, memory): it is not read again
    until it changes."""


class UploadRejectedError(InputError):
    """A file offered through the app cannot be added to the corpus."""


class AccessDeniedError(InputError):
    """The user may not do or read this; an admin grants rights in the access policy."""


class SignInError(InputError):
    """Wrong name or password, or an identity the server cannot trust."""


# --- the configuration ------------------------------------------------------------------------------


class ConfigurationError(SourcierError):
    pass


class ModelUnavailableError(ConfigurationError):
    pass


# --- services ---------------------------------------------------------------------------------------


class ServiceUnavailableError(SourcierError):
    pass


class StoreUnavailableError(ServiceUnavailableError):
    pass


class LLMUnavailableError(ServiceUnavailableError):
    pass


class IngestionRunningError(ServiceUnavailableError):
    pass
