"""Framework integrations, each a thin layer over :class:`connectstore.SessionEngine`.

Import the one you need (``connectstore.integrations.flask``...); each imports its
framework, which is an optional dependency (``pip install connectstore[flask]``).
"""
