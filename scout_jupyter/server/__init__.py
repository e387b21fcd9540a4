"""The Jupyter server extension: ``app`` (ScoutExtension), ``handlers`` (the routes), ``service``
(the logic under them), ``manifests``, ``files``, ``accesslog``, ``ratelimit`` and ``jobs``.

Only this package (with the magic and the widgets) imports tornado; the core does not.
"""
