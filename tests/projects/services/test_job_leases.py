"""projects.services.job_leases: one holder at a time for an open job, taken over only once its lease has run out, never
for a job that has ended; timed by the database's clock."""

import pytest

from annotation.exports.filters import ExportFilters
from annotation.exports.services import export_create
from projects.models import ExportJob
from projects.services.job_leases import LeaseAttempt, job_lease_release, job_lease_renew, job_lease_take
from tenancy.models import Role
from tests.factories import MembershipFactory, ProjectFactory


@pytest.fixture
def job(tenant):
    manager = MembershipFactory(organization=tenant, role=Role.MANAGER)
    return export_create(actor=manager, project=ProjectFactory(), export_format="jsonl", filters=ExportFilters())


def _expire(job: ExportJob) -> None:
    ExportJob.objects.filter(pk=job.pk).update(lease_expires_at=job.created_at)


def test_an_open_job_is_leased_to_one_holder_at_a_time(job):
    first = job_lease_take(ExportJob, job_id=job.pk, holder="a", seconds=60)
    second = job_lease_take(ExportJob, job_id=job.pk, holder="b", seconds=60)

    assert first == LeaseAttempt(taken=True)
    assert second.taken is False
    assert second.held_for is not None
    assert 59 <= second.held_for <= 60
    assert ExportJob.objects.values_list("lease_holder", flat=True).get(pk=job.pk) == "a"


def test_a_lease_that_ran_out_is_taken_over_and_its_old_holder_can_no_longer_renew_it(job):
    job_lease_take(ExportJob, job_id=job.pk, holder="a", seconds=60)
    _expire(job)

    assert job_lease_take(ExportJob, job_id=job.pk, holder="b", seconds=60) == LeaseAttempt(taken=True)
    assert job_lease_renew(ExportJob, job_id=job.pk, holder="a", seconds=60) is False
    assert job_lease_renew(ExportJob, job_id=job.pk, holder="b", seconds=60) is True


def test_only_its_holder_gives_a_lease_back(job):
    job_lease_take(ExportJob, job_id=job.pk, holder="a", seconds=60)

    job_lease_release(ExportJob, job_id=job.pk, holder="b")
    assert job_lease_take(ExportJob, job_id=job.pk, holder="b", seconds=60).taken is False
    job_lease_release(ExportJob, job_id=job.pk, holder="a")
    assert job_lease_take(ExportJob, job_id=job.pk, holder="b", seconds=60) == LeaseAttempt(taken=True)


@pytest.mark.parametrize("state", ["succeeded", "failed", "cancelled"])
def test_an_ended_job_is_leased_to_nobody(job, state):
    ExportJob.objects.filter(pk=job.pk).update(state=state)

    assert job_lease_take(ExportJob, job_id=job.pk, holder="a", seconds=60) == LeaseAttempt(taken=False)
