"""The ``kg`` command, the outermost layer beside ``service/``: one module per sub-command
(``common`` holds the options and set-up they share), each a thin shell over the core in ``kg/``."""
