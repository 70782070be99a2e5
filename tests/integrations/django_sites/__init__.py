"""Real third-party servers the integration tests run in their own processes: an
OpenID provider (django-oidc-provider) and a help desk (django-helpdesk), each a small
Django project on SQLite, started by :mod:`.serve`."""
