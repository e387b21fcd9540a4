"""A Jupyter authorizer for tests: everything is allowed except publishing."""

from __future__ import annotations

from jupyter_server.auth.authorizer import Authorizer


class NoPublishAuthorizer(Authorizer):
    def is_authorized(self, handler, user, action, resource) -> bool:  # noqa: ANN001
        return resource != "scout:publish"
