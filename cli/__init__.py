"""The ``p2psocial`` command line (import name ``p2psocial_cli``; the folder is ``cli/``)."""
