"""Jobs that are not per-document stages: measuring the NER against gold (``evaluate``, with
the gold readers in ``gold`` and the text alignment in ``align``)."""
