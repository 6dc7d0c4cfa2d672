"""Serializer base classes shared by every app's API."""

from typing import Any

from rest_framework import serializers


class RejectUnknownFieldsMixin:
    """A body may only carry fields the endpoint accepts; anything else (an id, a tenant) is an error, not noise."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, dict):
            writable = {name for name, field in self.fields.items() if not field.read_only}  # type: ignore[attr-defined]
            read_only = {name for name, field in self.fields.items() if field.read_only}  # type: ignore[attr-defined]
            errors = {}
            for key in sorted(set(data) - writable):
                if key in read_only:
                    errors[key] = [serializers.ErrorDetail("This field is read-only.", code="read_only")]
                else:
                    errors[key] = [serializers.ErrorDetail("Unknown field.", code="unknown_field")]
            if errors:
                raise serializers.ValidationError(errors)
        return super().to_internal_value(data)  # type: ignore[misc]


class ExactResponseMixin:
    """A response shape that carries exactly its fields, never more. The API schema says so (`additionalProperties:
    false`), which lets a client tell it from a fuller shape of the same object that the answer may also take (a
    project's brief, for the roles that may not see the whole project)."""


class StrictSerializer(RejectUnknownFieldsMixin, serializers.Serializer[Any]):
    pass


class StrictModelSerializer(RejectUnknownFieldsMixin, serializers.ModelSerializer[Any]):
    pass


class EmptySerializer(StrictSerializer):
    """The body of an action that takes no input: `{}` or nothing; any field sent is refused."""
