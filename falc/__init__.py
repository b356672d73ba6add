"""« Facile à lire et à comprendre » drafts of an authority's own documents: read → rewrite → check → export.

- `source`: a document as sections and passages (the ingestion's loaders, in their limited child process)
- `rewrite`: each passage by the LLM, facts checked, one retry, the source kept when the model cannot keep the facts
- `facts`: the facts a draft must keep and may not add
- `rules`: the FALC rules measured per sentence and per draft
- `drafts`: drafts kept per owner, edited and validated in the app
- `export`: DOCX and ODT, marked as drafts to be proofread
"""
