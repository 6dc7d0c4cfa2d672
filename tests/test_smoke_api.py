from tenancy.models import Role


def test_owner_creates_project_and_tasks(api_as, other_tenant):
    client = api_as(other_tenant, Role.OWNER)
    response = client.post("/api/v1/projects/", {"name": "Radiology"}, format="json")
    assert response.status_code == 201, response.json()
    project_id = response.json()["id"]
    response = client.post(
        f"/api/v1/projects/{project_id}/tasks/", [{"external_id": "a", "data": {"text": "x"}}], format="json"
    )
    assert response.status_code == 201, response.json()
    assert response.json()["created"] == 1
