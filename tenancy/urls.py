from django.urls import path

from tenancy.api import views

urlpatterns = [
    path("organization", views.OrganizationView.as_view(), name="organization"),
    path("me", views.MeView.as_view(), name="me"),
    path("members/", views.MemberListView.as_view(), name="member-list"),
    path("members/<str:member_id>", views.MemberDetailView.as_view(), name="member-detail"),
    path("members/<str:member_id>/pause", views.MemberPauseView.as_view(), name="member-pause"),
    path("members/<str:member_id>/unpause", views.MemberUnpauseView.as_view(), name="member-unpause"),
    path("members/<str:member_id>/skills/", views.MemberSkillListView.as_view(), name="member-skill-list"),
    path(
        "members/<str:member_id>/skills/<str:skill_id>",
        views.MemberSkillDetailView.as_view(),
        name="member-skill-detail",
    ),
    path("skills/", views.SkillListView.as_view(), name="skill-list"),
    path("skills/<str:skill_id>", views.SkillDetailView.as_view(), name="skill-detail"),
    path("invitations/", views.InvitationListView.as_view(), name="invitation-list"),
    path("invitations/accept", views.InvitationAcceptView.as_view(), name="invitation-accept"),
    path("invitations/<str:invitation_id>", views.InvitationDetailView.as_view(), name="invitation-detail"),
    path("tokens/", views.ApiTokenListView.as_view(), name="token-list"),
    path("tokens/<str:token_id>", views.ApiTokenDetailView.as_view(), name="token-detail"),
    path("platform/organizations/", views.PlatformOrganizationListView.as_view(), name="platform-organization-list"),
    path(
        "platform/organizations/<str:organization_id>",
        views.PlatformOrganizationDetailView.as_view(),
        name="platform-organization-detail",
    ),
]
