"""A factory of model calls as llm.services.calls leaves them once finished, for the pages that list them."""

import factory
from django.utils import timezone

from llm.models import ModelCall
from tests.factories import ModelConnectionFactory, ProjectFactory, _organization_in_context


class ModelCallFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ModelCall

    organization = factory.LazyFunction(_organization_in_context)
    connection = factory.SubFactory(ModelConnectionFactory)
    project = factory.SubFactory(ProjectFactory)
    purpose = "chat"
    state = "succeeded"
    prompt_tokens = 10
    completion_tokens = 20
    ttft_ms = 120.0
    latency_ms = 840.0
    stale_after = factory.LazyFunction(timezone.now)
    finished_at = factory.LazyFunction(timezone.now)
