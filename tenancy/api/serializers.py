"""Request and response shapes of the tenancy endpoints."""

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core import stored_secrets
from core.api.strict import StrictModelSerializer, StrictSerializer
from tenancy.models import (
    SKILL_LEVEL_MAX,
    SKILL_LEVEL_MIN,
    ApiToken,
    Invitation,
    Membership,
    MemberSkill,
    Organization,
    Role,
    Skill,
    User,
)


class UserSerializer(serializers.ModelSerializer[User]):
    id = serializers.UUIDField(source="uuid", read_only=True)

    class Meta:
        model = User
        fields = ["id", "email", "name"]
        read_only_fields = fields


class SettingsField(serializers.DictField):
    """The organization's settings; a stored secret shows only as `<name>_set`, never in any form of its value."""

    def to_representation(self, value: Any) -> Any:
        return super().to_representation(stored_secrets.sealed_fields_hidden(value))


class OrganizationSerializer(StrictModelSerializer):
    id = serializers.UUIDField(source="uuid", read_only=True)
    settings = SettingsField(
        required=False,
        help_text="Replaced as a whole. `audit_stream.token` is write-only (null removes it); reads show "
        "`audit_stream.token_set`. Send a section back as read to keep it.",
    )

    class Meta:
        model = Organization
        fields = ["id", "slug", "name", "settings", "created_at"]
        read_only_fields = ["id", "slug", "created_at"]


class OrganizationBriefSerializer(serializers.ModelSerializer[Organization]):
    """What every member may know of their organization: which one it is."""

    id = serializers.UUIDField(source="uuid", read_only=True)

    class Meta:
        model = Organization
        fields = ["id", "slug", "name"]
        read_only_fields = fields


class MeSerializer(serializers.Serializer[Any]):
    user = UserSerializer()
    organization = OrganizationBriefSerializer()
    role = serializers.CharField()
    token = serializers.CharField(allow_null=True, help_text="Prefix of the token in use, if any.")
    organizations = serializers.ListField(
        child=serializers.DictField(),
        help_text="With a token, its organization only; with a session, every organization of the signed-in person.",
    )


# The shapes are checked by the services, which name each bad entry by its path (`languages[2]`,
# `attributes.affiliation[0]`); these fields only describe them in the API schema.
@extend_schema_field({"type": "array", "items": {"type": "string"}, "example": ["en", "pt-br"]})
class LanguagesField(serializers.JSONField):
    pass


@extend_schema_field(
    {
        "type": "object",
        "additionalProperties": {"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]},
        "example": {"affiliation": "Acme Pharma", "former_employers": ["Initech"]},
    }
)
class AttributesField(serializers.JSONField):
    pass


class MemberSerializer(serializers.ModelSerializer[Membership]):
    id = serializers.UUIDField(source="uuid", read_only=True)
    user = UserSerializer(read_only=True)
    languages = LanguagesField(read_only=True)
    attributes = AttributesField(read_only=True)

    class Meta:
        model = Membership
        fields = [
            "id",
            "user",
            "role",
            "languages",
            "attributes",
            "paused_at",
            "paused_reason",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class MemberUpdateSerializer(StrictSerializer):
    role = serializers.ChoiceField(choices=Role.choices, required=False)
    languages = LanguagesField(required=False, help_text="Language codes the member works in, e.g. `en`, `pt-br`.")
    attributes = AttributesField(
        required=False,
        help_text='Facts conflict-of-interest rules match, e.g. `{"affiliation": "Acme Pharma"}`; replaces all.',
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not attrs:
            raise serializers.ValidationError("Send at least one of role, languages, attributes.", code="empty")
        return attrs


class MemberPauseSerializer(StrictSerializer):
    reason = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")


class SkillSerializer(serializers.ModelSerializer[Skill]):
    id = serializers.UUIDField(source="uuid", read_only=True)

    class Meta:
        model = Skill
        fields = ["id", "name", "description", "created_at"]
        read_only_fields = fields


class SkillInputSerializer(StrictSerializer):
    name = serializers.RegexField(
        r"^[a-z0-9][a-z0-9_-]*$",
        max_length=64,
        error_messages={"invalid": "Use lowercase letters, digits, `-` and `_`, starting with a letter or digit."},
        help_text="How projects and tasks require it, e.g. `cardiology`.",
    )
    description = serializers.CharField(max_length=300, required=False, allow_blank=True)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not attrs:  # only a partial update can get here empty
            raise serializers.ValidationError("Send at least one of name, description.", code="empty")
        return attrs


class MemberSkillSerializer(serializers.ModelSerializer[MemberSkill]):
    skill = serializers.CharField(source="skill.name", read_only=True)
    skill_id = serializers.UUIDField(source="skill.uuid", read_only=True)
    verified_by = serializers.EmailField(source="verified_by.email", read_only=True, allow_null=True, default=None)
    current = serializers.SerializerMethodField(help_text="False once expired: routing no longer counts it.")

    class Meta:
        model = MemberSkill
        fields = ["skill", "skill_id", "level", "verified_by", "verified_at", "expires_at", "current"]
        read_only_fields = fields

    def get_current(self, held: MemberSkill) -> bool:
        return held.is_current()


class MemberSkillInputSerializer(StrictSerializer):
    skill = serializers.CharField(max_length=64, help_text="The skill's name.")
    level = serializers.IntegerField(min_value=SKILL_LEVEL_MIN, max_value=SKILL_LEVEL_MAX)
    expires_at = serializers.DateTimeField(required=False, allow_null=True, default=None)


class InvitationSerializer(serializers.ModelSerializer[Invitation]):
    id = serializers.UUIDField(source="uuid", read_only=True)
    status = serializers.CharField(read_only=True)
    invited_by = serializers.EmailField(source="invited_by.email", read_only=True, allow_null=True, default=None)

    class Meta:
        model = Invitation
        fields = [
            "id",
            "email",
            "role",
            "status",
            "invited_by",
            "expires_at",
            "accepted_at",
            "revoked_at",
            "created_at",
        ]
        read_only_fields = fields


class InvitationCreateSerializer(StrictSerializer):
    email = serializers.EmailField(max_length=254)
    role = serializers.ChoiceField(choices=Role.choices)


class InvitationAcceptSerializer(StrictSerializer):
    token = serializers.CharField(max_length=128, help_text="The secret after `#` in the invitation mail's link.")
    name = serializers.CharField(
        max_length=200, required=False, allow_blank=True, default="", help_text="For a new account only."
    )
    password = serializers.CharField(
        max_length=256,
        required=False,
        allow_blank=True,
        default="",
        style={"input_type": "password"},
        trim_whitespace=False,
    )


class ApiTokenSerializer(serializers.ModelSerializer[ApiToken]):
    id = serializers.UUIDField(source="uuid", read_only=True)
    member = serializers.EmailField(source="membership.user.email", read_only=True)
    status = serializers.SerializerMethodField()

    class Meta:
        model = ApiToken
        fields = [
            "id",
            "name",
            "prefix",
            "role",
            "member",
            "status",
            "expires_at",
            "last_used_at",
            "revoked_at",
            "created_at",
        ]
        read_only_fields = fields

    def get_status(self, token: ApiToken) -> str:
        if token.revoked_at:
            return "revoked"
        return "active" if token.is_usable() else "expired"


class ApiTokenCreatedSerializer(ApiTokenSerializer):
    token = serializers.CharField(read_only=True, help_text="The bearer secret; shown once, never again.")

    class Meta(ApiTokenSerializer.Meta):
        fields = [*ApiTokenSerializer.Meta.fields, "token"]
        read_only_fields = fields


class ApiTokenCreateSerializer(StrictSerializer):
    name = serializers.CharField(max_length=100)
    role = serializers.ChoiceField(choices=Role.choices, required=False)
    expires_at = serializers.DateTimeField(required=False, allow_null=True)


class PlatformOrganizationCreateSerializer(StrictSerializer):
    name = serializers.CharField(max_length=200)
    slug = serializers.SlugField(max_length=64)
    owner_email = serializers.EmailField(
        max_length=254,
        help_text="Invited as the organization's first owner, by mail, whether or not the address has an account.",
    )


class PlatformOrganizationCreatedSerializer(serializers.Serializer[Any]):
    organization = OrganizationSerializer()
    owner_invitation = InvitationSerializer()
