"""Imported once by the forkserver of `ingest.worker`: every reading child is forked with the parsers imported and
warmed up (spaCy's French tokenizer takes seconds to compile its rules), so a replaced child starts at once."""

import pypdf  # noqa: F401
import unstructured.nlp.tokenize as _tokenize
import unstructured.partition.docx  # noqa: F401
import unstructured.partition.html  # noqa: F401

import ingest.loaders  # noqa: F401
from ingest.loaders.elements import unstructured_ready

unstructured_ready()
_tokenize._get_nlp()
