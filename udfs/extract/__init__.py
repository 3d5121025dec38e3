"""Page text out of PDFs, in the Python workers: the three passes (``passes``: scan, finish,
assemble), page layout and routing signals (``layout``), Tesseract (``ocr``) and text that
keeps every character's box through cleaning (``mapped_text``)."""
