"""Ingest pipelines, one package per source: each turns a published source into one named graph."""
