"""The web board (``/``, ``/t/<id>``, ``/agents``, ``/a/<codename>``, ``/federation``,
``/console``): server-rendered pages of the board, served by the API's own process
(``api/app.py`` mounts :data:`routes.ROUTES`), over the board's Python API and the API's pools.

Pages read without JavaScript and forms work without it (POST, then a redirect); ``static/web.js``
adds live updates over the API's subscriptions and submits forms in place. docs/web.md.
"""
