"""factory_boy factories of the review and quality rows (reviews, agreements, adjudications)."""

import factory

from annotation.models import Adjudication, ProjectAgreement, Review, TaskAgreement
from tests.factories import AnnotationFactory, MembershipFactory, ProjectFactory, TaskFactory, _organization_in_context


class ReviewFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Review

    organization = factory.LazyFunction(_organization_in_context)
    annotation = factory.SubFactory(AnnotationFactory)
    reviewer = factory.SubFactory(MembershipFactory, role="reviewer")
    level = 1
    decision = "accept"


class TaskAgreementFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TaskAgreement

    organization = factory.LazyFunction(_organization_in_context)
    project = factory.SubFactory(ProjectFactory)
    task = factory.SubFactory(TaskFactory, project=factory.SelfAttribute("..project"))
    annotations = 2


class ProjectAgreementFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ProjectAgreement

    organization = factory.LazyFunction(_organization_in_context)
    project = factory.SubFactory(ProjectFactory)


class AdjudicationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Adjudication

    organization = factory.LazyFunction(_organization_in_context)
    project = factory.SubFactory(ProjectFactory)
    task = factory.SubFactory(TaskFactory, project=factory.SelfAttribute("..project"))
    adjudicator = factory.SubFactory(MembershipFactory, role="manager")
    result = factory.LazyFunction(dict)
    schema_version = factory.LazyAttribute(lambda o: o.project.schema_version)
    rationale = "Settled against the guidelines."
