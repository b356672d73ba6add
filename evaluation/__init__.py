"""Evaluation sets built from ../shared/corpora: converters that write a corpus folder and its labels.

They are not part of the product (no interface but `sourcier eval-prepare` needs them); the metrics they feed live
beside what they measure (`rag.evaluate`, `quality.evaluate`).
"""
