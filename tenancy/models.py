"""Organizations (the tenants), the people in them, and the credentials they act with."""

import uuid
from typing import Any, ClassVar

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.db import models
from django.utils import timezone

from core.db import GUC_INVITATION_HASH, GUC_TOKEN_HASH, GUC_USER
from core.scoping import TenantManager, TenantModel


class UserManager(BaseUserManager["User"]):
    def create_user(self, email: str, password: str | None = None, **fields: Any) -> "User":
        user = self.model(email=self.normalize_email(email).lower(), **fields)
        user.set_password(password)
        user.save(using=self._db)
        return user


class User(AbstractBaseUser):
    """A person; what they may do depends on their membership in each organization."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    email = models.EmailField(unique=True)
    name = models.CharField(max_length=200, blank=True)
    is_active = models.BooleanField(default=True)
    # Platform staff create organizations; it grants nothing inside any organization.
    is_staff = models.BooleanField(default=False)
    date_joined = models.DateTimeField(default=timezone.now)

    objects: ClassVar[UserManager] = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = ["name"]

    def __str__(self) -> str:
        return self.email


class Organization(models.Model):
    """A tenant: a lab, or a team a neutral vendor serves. Nothing crosses from one to another."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    slug = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    settings = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.slug


class Role(models.TextChoices):
    OWNER = "owner"
    ADMIN = "admin"
    MANAGER = "manager"
    REVIEWER = "reviewer"
    ANNOTATOR = "annotator"

    @property
    def rank(self) -> int:
        return _ROLE_RANK[self]

    def at_least(self, other: "Role") -> bool:
        return _ROLE_RANK[self] >= _ROLE_RANK[other]


_ROLE_RANK = {Role.ANNOTATOR: 10, Role.REVIEWER: 20, Role.MANAGER: 30, Role.ADMIN: 40, Role.OWNER: 50}


class Membership(TenantModel):
    """A user's place in one organization, with one role; a user may hold several, one per organization."""

    objects: ClassVar[TenantManager["Membership"]] = TenantManager()  # type: ignore[assignment]

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices)
    # ISO 639-1 codes the member works in; projects and tasks may require one.
    languages = models.JSONField(default=list, blank=True)
    # Organization-defined facts used by conflict-of-interest rules, e.g. {"affiliation": "Acme Pharma"}.
    attributes = models.JSONField(default=dict, blank=True)
    # Set when gold accuracy fell below a project's threshold or an admin paused the member: no new work.
    paused_at = models.DateTimeField(null=True, blank=True)
    paused_reason = models.CharField(max_length=300, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    # A signed-in user may list their own memberships of every organization (to pick one); nobody else's.
    rls_extra_using = f"user_id = NULLIF(current_setting('{GUC_USER}', true), '')::bigint"

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "user"], name="membership_unique_user_per_org"),
        ]

    @property
    def role_enum(self) -> Role:
        return Role(self.role)

    def __str__(self) -> str:
        return f"{self.user_id}@{self.organization_id}:{self.role}"


class ApiToken(TenantModel):
    """A bearer credential scoped to one organization, acting as its member with at most the member's role.

    Only a SHA-256 digest is stored; the token is shown once, at creation.
    """

    objects: ClassVar[TenantManager["ApiToken"]] = TenantManager()  # type: ignore[assignment]

    membership = models.ForeignKey(Membership, on_delete=models.CASCADE, related_name="tokens")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, db_index=True)
    key_hash = models.CharField(max_length=64, unique=True)
    role = models.CharField(max_length=16, choices=Role.choices)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    # Authentication finds a token by the digest of the secret presented, before the organization is known.
    rls_extra_using = f"key_hash = NULLIF(current_setting('{GUC_TOKEN_HASH}', true), '')"

    def is_usable(self, now: Any = None) -> bool:
        now = now or timezone.now()
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.name})"


class Invitation(TenantModel):
    """The only way in: an admin invites an email address to a role; the link's secret is stored hashed."""

    objects: ClassVar[TenantManager["Invitation"]] = TenantManager()  # type: ignore[assignment]

    email = models.EmailField()
    role = models.CharField(max_length=16, choices=Role.choices)
    invited_by = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, related_name="+")
    key_hash = models.CharField(max_length=64, unique=True)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    revoked_at = models.DateTimeField(null=True, blank=True)

    # Accepting finds the invitation by the digest of the link's secret, before the invitee belongs anywhere.
    rls_extra_using = f"key_hash = NULLIF(current_setting('{GUC_INVITATION_HASH}', true), '')"

    class Meta:
        indexes = [models.Index(fields=["organization", "email"], name="invitation_org_email")]

    @property
    def status(self) -> str:
        if self.accepted_at:
            return "accepted"
        if self.revoked_at:
            return "revoked"
        if self.expires_at <= timezone.now():
            return "expired"
        return "pending"

    def __str__(self) -> str:
        return f"{self.email} as {self.role}"


class Skill(TenantModel):
    """An expertise the organization routes by (e.g. `cardiology`, `german-law`); members hold it at a level."""

    objects: ClassVar[TenantManager["Skill"]] = TenantManager()  # type: ignore[assignment]

    name = models.SlugField(max_length=64)
    description = models.CharField(max_length=300, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organization", "name"], name="skill_unique_name_per_org")]

    def __str__(self) -> str:
        return self.name


# A skill is held, and required, at a level from novice to expert. Routing compares levels, so every check of one
# (the table's constraint, the forms, the API, the services) reads this range.
SKILL_LEVEL_MIN, SKILL_LEVEL_MAX = 1, 5


class MemberSkill(TenantModel):
    """A member's level (SKILL_LEVEL_MIN to SKILL_LEVEL_MAX) in one skill, who verified it and until when it counts."""

    objects: ClassVar[TenantManager["MemberSkill"]] = TenantManager()  # type: ignore[assignment]

    membership = models.ForeignKey(Membership, on_delete=models.CASCADE, related_name="skills")
    skill = models.ForeignKey(Skill, on_delete=models.CASCADE, related_name="holders")
    level = models.PositiveSmallIntegerField()
    verified_by = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    verified_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["membership", "skill"], name="member_skill_unique"),
            models.CheckConstraint(
                condition=models.Q(level__gte=SKILL_LEVEL_MIN, level__lte=SKILL_LEVEL_MAX),
                name="member_skill_level_range",
            ),
        ]

    def is_current(self, now: Any = None) -> bool:
        return self.expires_at is None or self.expires_at > (now or timezone.now())

    def __str__(self) -> str:
        return f"{self.skill_id}:{self.level}"
