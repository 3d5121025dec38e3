"""The NER backends: spaCy pipelines, Hugging Face token-classification checkpoints, rules."""
