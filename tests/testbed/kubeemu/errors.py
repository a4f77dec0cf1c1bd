"""API errors, rendered as the metav1.Status documents client-go turns into typed errors."""


class ApiError(Exception):
    """An error the API answers with a Status body and HTTP ``code``."""

    def __init__(self, code, reason, message, name=None, kind=None, group=None, retry_after=None):
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = {key: value for key, value in (("name", name), ("group", group), ("kind", kind)) if value is not None}
        self.retry_after = retry_after
        if retry_after is not None:
            self.details["retryAfterSeconds"] = retry_after

    def status(self):
        body = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if self.details:
            body["details"] = self.details
        return body


def _resource_name(resource):
    return "%s.%s" % (resource.plural, resource.group) if resource.group else resource.plural


def not_found(resource, name):
    return ApiError(404, "NotFound", '%s "%s" not found' % (_resource_name(resource), name), name, resource.plural, resource.group)


def already_exists(resource, name):
    return ApiError(409, "AlreadyExists", '%s "%s" already exists' % (_resource_name(resource), name), name, resource.plural, resource.group)


def conflict(resource, name):
    message = (
        'Operation cannot be fulfilled on %s "%s": the object has been modified; '
        "please apply your changes to the latest version and try again" % (_resource_name(resource), name)
    )
    return ApiError(409, "Conflict", message, name, resource.plural, resource.group)


def invalid(kind, name, field, detail):
    message = '%s "%s" is invalid: %s: %s' % (kind, name, field, detail)
    return ApiError(422, "Invalid", message, name, kind)


def bad_request(message):
    return ApiError(400, "BadRequest", message)


def namespace_not_found(name):
    return ApiError(404, "NotFound", 'namespaces "%s" not found' % name, name, "namespaces")
