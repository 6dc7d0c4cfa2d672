"""factory_boy factories for every app; tenant-owned ones must be built inside organization_context."""

from typing import Any

import factory

from annotation.models import Annotation, ConflictExclusion
from core import credentials
from core.context import current_organization_id
from llm.models import ModelConnection
from llm.services.connections import seal_api_key
from projects.models import Project, Task
from tenancy.models import ApiToken, Membership, MemberSkill, Organization, Role, Skill, User
from tests.llm.model_server import MODEL_SERVER_API_KEY


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"person{n}@example.org")
    name = factory.Faker("name")
    password = factory.PostGenerationMethodCall("set_password", "correct horse battery staple")

    @factory.post_generation
    def _save(obj: User, create: bool, extracted: Any, **kwargs: Any) -> None:
        if create:
            obj.save()


class OrganizationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organization

    name = factory.Sequence(lambda n: f"Lab {n}")
    slug = factory.Sequence(lambda n: f"lab-{n}")


def _organization_in_context() -> Organization:
    return Organization.objects.get(pk=current_organization_id())


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    organization = factory.LazyFunction(_organization_in_context)
    user = factory.SubFactory(UserFactory)
    role = Role.ANNOTATOR


class ApiTokenFactory(factory.django.DjangoModelFactory):
    """A token whose secret stays on the instance as `raw`: only its creator ever sees it."""

    class Meta:
        model = ApiToken

    organization = factory.LazyFunction(_organization_in_context)
    membership = factory.SubFactory(MembershipFactory)
    name = factory.Sequence(lambda n: f"token {n}")
    role = factory.LazyAttribute(lambda o: o.membership.role)

    @classmethod
    def _create(cls, model_class: type[ApiToken], *args: Any, **kwargs: Any) -> ApiToken:
        issued = credentials.issue_token()
        token = model_class(*args, prefix=issued.prefix, key_hash=issued.digest, **kwargs)
        token.save()
        token.raw = issued.raw  # type: ignore[attr-defined]
        return token


class ProjectFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Project

    organization = factory.LazyFunction(_organization_in_context)
    name = factory.Sequence(lambda n: f"Project {n}")
    guidelines = "Label each item carefully."
    label_schema = factory.LazyFunction(lambda: {"fields": []})


class TaskFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Task

    organization = factory.LazyFunction(_organization_in_context)
    project = factory.SubFactory(ProjectFactory)
    external_id = factory.Sequence(lambda n: f"item-{n}")
    data = factory.LazyFunction(lambda: {"text": "The quick brown fox."})
    priority = 0
    overlap = factory.LazyAttribute(lambda o: o.project.overlap)


class SkillFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Skill

    organization = factory.LazyFunction(_organization_in_context)
    name = factory.Sequence(lambda n: f"skill-{n}")


class MemberSkillFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = MemberSkill

    organization = factory.LazyFunction(_organization_in_context)
    membership = factory.SubFactory(MembershipFactory)
    skill = factory.SubFactory(SkillFactory)
    level = 3


class ConflictExclusionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ConflictExclusion

    organization = factory.LazyFunction(_organization_in_context)
    project = factory.SubFactory(ProjectFactory)
    membership = factory.SubFactory(MembershipFactory)


class AnnotationFactory(factory.django.DjangoModelFactory):
    """A stored annotation (as if submitted); routing tests create theirs through the API instead."""

    class Meta:
        model = Annotation

    organization = factory.LazyFunction(_organization_in_context)
    project = factory.SubFactory(ProjectFactory)
    task = factory.SubFactory(TaskFactory, project=factory.SelfAttribute("..project"))
    annotator = factory.SubFactory(MembershipFactory)
    result = factory.LazyFunction(dict)
    schema_version = factory.LazyAttribute(lambda o: o.project.schema_version)
    guidelines_version = factory.LazyAttribute(lambda o: o.project.guidelines_version)


class ModelConnectionFactory(factory.django.DjangoModelFactory):
    """A connection to the loopback model server (pass `base_url=model_server.base_url`), its key sealed as the
    service seals it; `api_key` sets another key, "" none."""

    class Meta:
        model = ModelConnection
        exclude = ("api_key",)

    organization = factory.LazyFunction(_organization_in_context)
    name = factory.Sequence(lambda n: f"connection {n}")
    base_url = "http://127.0.0.1:8100/v1"
    model = "model-a"
    parameters = factory.LazyFunction(dict)
    api_key = MODEL_SERVER_API_KEY
    api_key_sealed = factory.LazyAttribute(lambda o: seal_api_key(o.api_key, organization_id=o.organization.id))
    timeout_seconds = 5
