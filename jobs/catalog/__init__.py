"""What the pipeline is made of, declared once and read by every layer: the tables
(``tables``) and the rows the UDFs return (``rows``). Declarations only: nothing here
reads or writes data, and nothing here imports the layers that do."""
